/**
 * Mixed-radix complex FFT of any size (Stockham autosort, so no digit-reversal pass), in float64.
 * Whisper needs a true 400-point transform (400 = 4·4·5·5): zero-padding to 512 would change every bin.
 * Radices 4, 2, 3 and 5 have hand-written butterflies; any other prime factor uses a plain DFT.
 */

interface Stage {
  /** Radix of this stage. */
  readonly p: number;
  /** Sub-transform length before this stage (n / p). */
  readonly m: number;
  /** Stride of the interleaved sub-transforms. */
  readonly s: number;
  /** Twiddles w^(q·l), l = 1..p-1, q = 0..m-1, laid out [q][l-1] (real and imaginary parts). */
  readonly twRe: Float64Array;
  readonly twIm: Float64Array;
}

/** A planned forward FFT of fixed size n: X[k] = Σ x[j]·exp(-2πi·jk/n). */
export interface Fft {
  readonly size: number;
  /** Transforms (re, im) in place; both arrays have length `size`. */
  transform(re: Float64Array, im: Float64Array): void;
}

function factorize(n: number): number[] {
  const factors: number[] = [];
  let rest = n;
  for (const p of [4, 2, 3, 5]) {
    while (rest % p === 0) {
      factors.push(p);
      rest /= p;
    }
  }
  for (let p = 7; rest > 1; p += 2) {
    while (rest % p === 0) {
      factors.push(p);
      rest /= p;
    }
  }
  return factors;
}

const C5_1 = Math.cos((2 * Math.PI) / 5);
const C5_2 = Math.cos((4 * Math.PI) / 5);
const S5_1 = Math.sin((2 * Math.PI) / 5);
const S5_2 = Math.sin((4 * Math.PI) / 5);
const S3 = Math.sin((2 * Math.PI) / 3);

/** Plans a forward FFT of size n (n >= 1). */
export function createFft(n: number): Fft {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`FFT size must be a positive integer, got ${n}`);
  const stages: Stage[] = [];
  let len = n;
  let s = 1;
  for (const p of factorize(n)) {
    const m = len / p;
    const twRe = new Float64Array(m * (p - 1));
    const twIm = new Float64Array(m * (p - 1));
    for (let q = 0; q < m; q++) {
      for (let l = 1; l < p; l++) {
        const angle = (-2 * Math.PI * q * l) / len;
        twRe[q * (p - 1) + l - 1] = Math.cos(angle);
        twIm[q * (p - 1) + l - 1] = Math.sin(angle);
      }
    }
    stages.push({ p, m, s, twRe, twIm });
    len = m;
    s *= p;
  }
  const bufRe = new Float64Array(n);
  const bufIm = new Float64Array(n);
  // Scratch for the generic-radix DFT.
  const maxP = Math.max(1, ...stages.map((st) => st.p));
  const aRe = new Float64Array(maxP);
  const aIm = new Float64Array(maxP);

  return {
    size: n,
    transform(re: Float64Array, im: Float64Array): void {
      let xr: Float64Array = re;
      let xi: Float64Array = im;
      let yr: Float64Array = bufRe;
      let yi: Float64Array = bufIm;
      for (const stage of stages) {
        runStage(stage, xr, xi, yr, yi, aRe, aIm);
        [xr, yr] = [yr, xr];
        [xi, yi] = [yi, xi];
      }
      if (xr !== re) {
        re.set(xr);
        im.set(xi);
      }
    },
  };
}

/**
 * One Stockham decimation-in-frequency stage: inputs x[k + s(q + m·j)], j < p, go through a p-point DFT,
 * output l is multiplied by w^(q·l) and lands at y[k + s(p·q + l)].
 */
function runStage(
  stage: Stage,
  xr: Float64Array,
  xi: Float64Array,
  yr: Float64Array,
  yi: Float64Array,
  aRe: Float64Array,
  aIm: Float64Array,
): void {
  const { p, m, s, twRe, twIm } = stage;
  const sm = s * m;
  for (let q = 0; q < m; q++) {
    const t = q * (p - 1);
    if (p === 4) {
      const w1r = twRe[t], w1i = twIm[t], w2r = twRe[t + 1], w2i = twIm[t + 1], w3r = twRe[t + 2], w3i = twIm[t + 2];
      for (let k = 0; k < s; k++) {
        const i0 = k + s * q;
        const a0r = xr[i0], a0i = xi[i0];
        const a1r = xr[i0 + sm], a1i = xi[i0 + sm];
        const a2r = xr[i0 + 2 * sm], a2i = xi[i0 + 2 * sm];
        const a3r = xr[i0 + 3 * sm], a3i = xi[i0 + 3 * sm];
        const t0r = a0r + a2r, t0i = a0i + a2i, t1r = a0r - a2r, t1i = a0i - a2i;
        const t2r = a1r + a3r, t2i = a1i + a3i, t3r = a1r - a3r, t3i = a1i - a3i;
        const o = k + s * 4 * q;
        yr[o] = t0r + t2r;
        yi[o] = t0i + t2i;
        // b1 = t1 - i·t3, b2 = t0 - t2, b3 = t1 + i·t3, each times its twiddle.
        const b1r = t1r + t3i, b1i = t1i - t3r;
        const b2r = t0r - t2r, b2i = t0i - t2i;
        const b3r = t1r - t3i, b3i = t1i + t3r;
        yr[o + s] = b1r * w1r - b1i * w1i;
        yi[o + s] = b1r * w1i + b1i * w1r;
        yr[o + 2 * s] = b2r * w2r - b2i * w2i;
        yi[o + 2 * s] = b2r * w2i + b2i * w2r;
        yr[o + 3 * s] = b3r * w3r - b3i * w3i;
        yi[o + 3 * s] = b3r * w3i + b3i * w3r;
      }
    } else if (p === 5) {
      const w1r = twRe[t], w1i = twIm[t], w2r = twRe[t + 1], w2i = twIm[t + 1];
      const w3r = twRe[t + 2], w3i = twIm[t + 2], w4r = twRe[t + 3], w4i = twIm[t + 3];
      for (let k = 0; k < s; k++) {
        const i0 = k + s * q;
        const a0r = xr[i0], a0i = xi[i0];
        const a1r = xr[i0 + sm], a1i = xi[i0 + sm];
        const a2r = xr[i0 + 2 * sm], a2i = xi[i0 + 2 * sm];
        const a3r = xr[i0 + 3 * sm], a3i = xi[i0 + 3 * sm];
        const a4r = xr[i0 + 4 * sm], a4i = xi[i0 + 4 * sm];
        const u1r = a1r + a4r, u1i = a1i + a4i, v1r = a1r - a4r, v1i = a1i - a4i;
        const u2r = a2r + a3r, u2i = a2i + a3i, v2r = a2r - a3r, v2i = a2i - a3i;
        const c1r = a0r + C5_1 * u1r + C5_2 * u2r, c1i = a0i + C5_1 * u1i + C5_2 * u2i;
        const c2r = a0r + C5_2 * u1r + C5_1 * u2r, c2i = a0i + C5_2 * u1i + C5_1 * u2i;
        const d1r = S5_1 * v1r + S5_2 * v2r, d1i = S5_1 * v1i + S5_2 * v2i;
        const d2r = S5_2 * v1r - S5_1 * v2r, d2i = S5_2 * v1i - S5_1 * v2i;
        // b1 = c1 - i·d1, b4 = c1 + i·d1, b2 = c2 - i·d2, b3 = c2 + i·d2.
        const b1r = c1r + d1i, b1i = c1i - d1r, b4r = c1r - d1i, b4i = c1i + d1r;
        const b2r = c2r + d2i, b2i = c2i - d2r, b3r = c2r - d2i, b3i = c2i + d2r;
        const o = k + s * 5 * q;
        yr[o] = a0r + u1r + u2r;
        yi[o] = a0i + u1i + u2i;
        yr[o + s] = b1r * w1r - b1i * w1i;
        yi[o + s] = b1r * w1i + b1i * w1r;
        yr[o + 2 * s] = b2r * w2r - b2i * w2i;
        yi[o + 2 * s] = b2r * w2i + b2i * w2r;
        yr[o + 3 * s] = b3r * w3r - b3i * w3i;
        yi[o + 3 * s] = b3r * w3i + b3i * w3r;
        yr[o + 4 * s] = b4r * w4r - b4i * w4i;
        yi[o + 4 * s] = b4r * w4i + b4i * w4r;
      }
    } else if (p === 2) {
      const w1r = twRe[t], w1i = twIm[t];
      for (let k = 0; k < s; k++) {
        const i0 = k + s * q;
        const a0r = xr[i0], a0i = xi[i0], a1r = xr[i0 + sm], a1i = xi[i0 + sm];
        const o = k + s * 2 * q;
        yr[o] = a0r + a1r;
        yi[o] = a0i + a1i;
        const br = a0r - a1r, bi = a0i - a1i;
        yr[o + s] = br * w1r - bi * w1i;
        yi[o + s] = br * w1i + bi * w1r;
      }
    } else if (p === 3) {
      const w1r = twRe[t], w1i = twIm[t], w2r = twRe[t + 1], w2i = twIm[t + 1];
      for (let k = 0; k < s; k++) {
        const i0 = k + s * q;
        const a0r = xr[i0], a0i = xi[i0];
        const a1r = xr[i0 + sm], a1i = xi[i0 + sm];
        const a2r = xr[i0 + 2 * sm], a2i = xi[i0 + 2 * sm];
        const ur = a1r + a2r, ui = a1i + a2i, vr = a1r - a2r, vi = a1i - a2i;
        const cr = a0r - 0.5 * ur, ci = a0i - 0.5 * ui;
        // b1 = c - i·S3·v, b2 = c + i·S3·v.
        const b1r = cr + S3 * vi, b1i = ci - S3 * vr, b2r = cr - S3 * vi, b2i = ci + S3 * vr;
        const o = k + s * 3 * q;
        yr[o] = a0r + ur;
        yi[o] = a0i + ui;
        yr[o + s] = b1r * w1r - b1i * w1i;
        yi[o + s] = b1r * w1i + b1i * w1r;
        yr[o + 2 * s] = b2r * w2r - b2i * w2i;
        yi[o + 2 * s] = b2r * w2i + b2i * w2r;
      }
    } else {
      for (let k = 0; k < s; k++) {
        const i0 = k + s * q;
        for (let j = 0; j < p; j++) {
          aRe[j] = xr[i0 + j * sm];
          aIm[j] = xi[i0 + j * sm];
        }
        const o = k + s * p * q;
        for (let l = 0; l < p; l++) {
          let br = 0;
          let bi = 0;
          for (let j = 0; j < p; j++) {
            const angle = (-2 * Math.PI * ((j * l) % p)) / p;
            const c = Math.cos(angle), sn = Math.sin(angle);
            br += aRe[j] * c - aIm[j] * sn;
            bi += aRe[j] * sn + aIm[j] * c;
          }
          if (l === 0) {
            yr[o] = br;
            yi[o] = bi;
          } else {
            const wr = twRe[t + l - 1], wi = twIm[t + l - 1];
            yr[o + l * s] = br * wr - bi * wi;
            yi[o + l * s] = br * wi + bi * wr;
          }
        }
      }
    }
  }
}
