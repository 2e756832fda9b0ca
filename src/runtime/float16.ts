/**
 * IEEE 754 half-precision values as ONNX Runtime hands them to JavaScript (`float16` tensors hold their bits in a
 * Uint16Array), widened to float32: exactly, since every half is a float32. A 65,536-entry table, made on first use.
 */
let table: Float32Array | undefined;

function halfTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * fraction * 2 ** -24; // zero and subnormals
    else if (exponent === 31) table[bits] = fraction === 0 ? sign * Infinity : NaN;
    else table[bits] = sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
  }
  return table;
}

/** The float32 values of half-precision `bits`, into `out` (a new array by default). */
export function float16ToFloat32(bits: Uint16Array, out: Float32Array = new Float32Array(bits.length)): Float32Array {
  const halves = halfTable();
  for (let i = 0; i < bits.length; i++) out[i] = halves[bits[i]];
  return out;
}
