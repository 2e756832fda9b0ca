/**
 * The page's one way to the server: the API key (entered once, kept in localStorage, sent as a Bearer token),
 * fetch with the key, uploads with progress (XMLHttpRequest: fetch reports no upload progress), and every
 * error answer turned into a sentence.
 */

const KEY_STORAGE = 'moxing.apiKey';

export function apiKey(): string {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

export function setApiKey(key: string): void {
  if (key === '') localStorage.removeItem(KEY_STORAGE);
  else localStorage.setItem(KEY_STORAGE, key);
}

function authHeaders(): Record<string, string> {
  const key = apiKey();
  return key === '' ? {} : { authorization: `Bearer ${key}` };
}

/** An answer the server refused, with its words. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The sentence for a failed answer: the server's own message (both error shapes carry one), else the status. */
export function errorMessage(status: number, body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } };
    if (typeof parsed.error?.message === 'string') return explain(status, parsed.error.message);
  } catch {
    // not JSON: the status says it
  }
  return explain(status, body.trim().slice(0, 300) || `the server answered ${status}`);
}

function explain(status: number, message: string): string {
  if (status === 401) return `${message}. Enter the server's API key at the top of the page.`;
  return message;
}

export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers as Record<string, string> | undefined) } });
  } catch {
    throw new ApiError(0, 'the server cannot be reached; is `moxing serve` still running?');
  }
  if (!response.ok) throw new ApiError(response.status, errorMessage(response.status, await response.text()));
  return response;
}

export async function apiJson<T>(path: string, body?: unknown): Promise<T> {
  const init: RequestInit = body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  return (await apiFetch(path, init)).json() as Promise<T>;
}

/** POSTs a form, reporting the share of it sent so far (0..1); resolves with the answer's text. */
export function upload(path: string, form: FormData, onProgress: (sent: number) => void, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.upload.onload = () => onProgress(1);
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve(xhr.responseText) : reject(new ApiError(xhr.status, errorMessage(xhr.status, xhr.responseText))));
    xhr.onerror = () => reject(new ApiError(0, 'the upload failed: the server cannot be reached'));
    xhr.onabort = () => reject(new ApiError(0, 'the upload was cancelled'));
    signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(form);
  });
}

/** The words of any error, for the page. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Whether the server has a route, told by its 404 "no route" answer (a 401 says only that the key is missing). */
export async function routeExists(method: string, path: string): Promise<boolean> {
  try {
    const response = await fetch(path, { method, headers: authHeaders() });
    if (response.status === 401) return false;
    if (response.status !== 404) return true;
    const body = await response.text();
    return !/no route/i.test(body);
  } catch {
    return false;
  }
}

/** Saves text (or bytes) as a file the browser downloads. */
export function saveFile(name: string, data: BlobPart, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A picked file as a `data:` URL (how images travel in JSON bodies). */
export function readAsDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(new Error(`the file ${file.name} could not be read`));
    reader.readAsDataURL(file);
  });
}
