// Vite's import suffixes this UI uses (vite/client would bring all of them, and Node's types with them).
declare module '*?worker&url' {
  const url: string;
  export default url;
}
