/**
 * Weight quantizers, pure array code. A MatMul weight is read through `WeightView` so that a [K, N] initializer
 * and a tied [N, K] embedding (the lm-head's `MatMul(x, Transpose(embed))`) quantize the same way.
 */

/** Element (k, n) of a MatMul weight of K rows (input features) and N columns (outputs). */
export interface WeightView {
  readonly k: number;
  readonly n: number;
  at(k: number, n: number): number;
}

/** A [K, N] row-major weight (MatMul's B). */
export function kMajor(data: Float32Array, k: number, n: number): WeightView {
  return { k, n, at: (row, col) => data[row * n + col] };
}

/** A [N, K] row-major weight used transposed (a tied embedding [vocab, d_model]). */
export function nMajor(data: Float32Array, k: number, n: number): WeightView {
  return { k, n, at: (row, col) => data[col * k + row] };
}

/** MatMulNBits' packed layout: B [N, blocks, blockSize * bits / 8], scales [N * blocks], zero points packed per column. */
export interface BlockQuantized {
  readonly packed: Uint8Array;
  readonly scales: Float32Array;
  readonly zeroPoints?: Uint8Array;
  readonly blocksPerColumn: number;
}

/**
 * Blockwise weight-only quantization along K, as com.microsoft MatMulNBits consumes it. Asymmetric blocks (with
 * zero points) cover [min(0, lo), max(0, hi)] in 2^bits steps; symmetric ones use ±max|w| with the implicit zero
 * point 2^(bits-1). K is zero-padded to whole blocks. 4-bit values are packed two per byte, low nibble first.
 */
export function quantizeBlockwise(w: WeightView, bits: 4 | 8, blockSize: number, symmetric: boolean): BlockQuantized {
  const blocks = Math.ceil(w.k / blockSize);
  const blob = (blockSize * bits) / 8;
  const qmax = 2 ** bits - 1;
  const packed = new Uint8Array(w.n * blocks * blob);
  const scales = new Float32Array(w.n * blocks);
  const zpBytesPerColumn = Math.ceil((blocks * bits) / 8);
  const zeroPoints = symmetric ? undefined : new Uint8Array(w.n * zpBytesPerColumn);
  const values = new Float32Array(blockSize);
  for (let n = 0; n < w.n; n++) {
    for (let b = 0; b < blocks; b++) {
      let lo = 0;
      let hi = 0;
      for (let j = 0; j < blockSize; j++) {
        const k = b * blockSize + j;
        const v = k < w.k ? w.at(k, n) : 0;
        values[j] = v;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      let scale: number;
      let zp: number;
      if (symmetric) {
        const half = 2 ** (bits - 1);
        scale = Math.max(-lo, hi) / (half - 1);
        zp = half;
      } else {
        scale = (hi - lo) / qmax;
        zp = scale === 0 ? 0 : Math.min(qmax, Math.max(0, Math.round(-lo / scale)));
      }
      if (scale === 0) scale = 1; // an all-zero block: any scale decodes zp to 0
      const fscale = Math.fround(scale);
      scales[n * blocks + b] = fscale;
      const base = (n * blocks + b) * blob;
      for (let j = 0; j < blockSize; j++) {
        const q = Math.min(qmax, Math.max(0, Math.round(values[j] / fscale) + zp));
        if (bits === 8) packed[base + j] = q;
        else packed[base + (j >> 1)] |= j & 1 ? q << 4 : q;
      }
      if (zeroPoints) {
        if (bits === 8) zeroPoints[n * zpBytesPerColumn + b] = zp;
        else zeroPoints[n * zpBytesPerColumn + (b >> 1)] |= b & 1 ? zp << 4 : zp;
      }
    }
  }
  return { packed, scales, zeroPoints, blocksPerColumn: blocks };
}

/** Symmetric int8 per output column: data [K, N] int8 and scales [N], for MatMulInteger. */
export function quantizePerColumnInt8(w: WeightView): { data: Int8Array; scales: Float32Array } {
  const data = new Int8Array(w.k * w.n);
  const scales = new Float32Array(w.n);
  for (let n = 0; n < w.n; n++) {
    let amax = 0;
    for (let k = 0; k < w.k; k++) amax = Math.max(amax, Math.abs(w.at(k, n)));
    const scale = Math.fround(amax === 0 ? 1 : amax / 127);
    scales[n] = scale;
    for (let k = 0; k < w.k; k++) data[k * w.n + n] = Math.max(-127, Math.min(127, Math.round(w.at(k, n) / scale)));
  }
  return { data, scales };
}

/** Symmetric int8 per row of a [rows, cols] table (an embedding read by Gather): data and scales [rows, 1]. */
export function quantizePerRowInt8(table: Float32Array, rows: number, cols: number): { data: Int8Array; scales: Float32Array } {
  const data = new Int8Array(rows * cols);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let amax = 0;
    for (let c = 0; c < cols; c++) amax = Math.max(amax, Math.abs(table[r * cols + c]));
    const scale = Math.fround(amax === 0 ? 1 : amax / 127);
    scales[r] = scale;
    for (let c = 0; c < cols; c++) data[r * cols + c] = Math.round(table[r * cols + c] / scale);
  }
  return { data, scales };
}

/** Dequantized MatMulNBits weight as [K, N] (tests and error measurement). */
export function dequantizeBlockwise(q: BlockQuantized, k: number, n: number, bits: 4 | 8, blockSize: number): Float32Array {
  const out = new Float32Array(k * n);
  const blob = (blockSize * bits) / 8;
  const zpBytes = Math.ceil((q.blocksPerColumn * bits) / 8);
  for (let col = 0; col < n; col++) {
    for (let b = 0; b < q.blocksPerColumn; b++) {
      const scale = q.scales[col * q.blocksPerColumn + b];
      let zp = 2 ** (bits - 1);
      if (q.zeroPoints) {
        const byte = q.zeroPoints[col * zpBytes + (bits === 8 ? b : b >> 1)];
        zp = bits === 8 ? byte : b & 1 ? byte >> 4 : byte & 15;
      }
      for (let j = 0; j < blockSize; j++) {
        const row = b * blockSize + j;
        if (row >= k) break;
        const byte = q.packed[(col * q.blocksPerColumn + b) * blob + (bits === 8 ? j : j >> 1)];
        const v = bits === 8 ? byte : j & 1 ? byte >> 4 : byte & 15;
        out[row * n + col] = (v - zp) * scale;
      }
    }
  }
  return out;
}
