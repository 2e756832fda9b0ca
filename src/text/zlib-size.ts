/**
 * The size of `zlib.compress(data)` (level 6) as stock zlib computes it, without producing the bytes.
 *
 * openai/whisper's compression_ratio divides by that size, and Node's own zlib (Chromium's fork, which
 * hashes 4 bytes and so never finds 3-byte matches) compresses many texts a few bytes smaller. This is a
 * port of the parts of zlib 1.2.x/1.3.x that decide the size for one block: deflate_slow's lazy LZ77
 * (3-byte rolling hash, chains of 128, lazy limit 16, good 8, nice 128), then trees.c's Huffman trees,
 * the code-length tree, and the choice between stored, fixed and dynamic blocks.
 * Inputs that would span several blocks (16383 symbols or more) return undefined.
 */

const MIN_MATCH = 3;
const MAX_MATCH = 258;
const WINDOW_BITS = 15;
const W_SIZE = 1 << WINDOW_BITS;
const MIN_LOOKAHEAD = MAX_MATCH + MIN_MATCH + 1;
const MAX_DIST = W_SIZE - MIN_LOOKAHEAD;
const TOO_FAR = 4096;
const HASH_BITS = 8 + 7; // memLevel 8
const HASH_MASK = (1 << HASH_BITS) - 1;
const HASH_SHIFT = Math.floor((HASH_BITS + MIN_MATCH - 1) / MIN_MATCH);
/** Level 6: deflate_slow with these limits. */
const GOOD_MATCH = 8;
const MAX_LAZY = 16;
const NICE_MATCH = 128;
const MAX_CHAIN = 128;
/** Symbols one block holds at memLevel 8: (1 << 14) - 1. */
const MAX_SYMBOLS = (1 << 14) - 1;

const LITERALS = 256;
const L_CODES = LITERALS + 1 + 29;
const D_CODES = 30;
const BL_CODES = 19;
const HEAP_SIZE = 2 * L_CODES + 1;
const MAX_BITS = 15;
const END_BLOCK = 256;
const EXTRA_LBITS = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const EXTRA_DBITS = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const EXTRA_BLBITS = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7];
const BL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

// trees.c tr_static_init: match length - 3 -> length code, distance - 1 -> distance code.
const LENGTH_CODE = new Uint8Array(256);
const DIST_CODE = new Uint8Array(512);
{
  let length = 0;
  let code = 0;
  for (; code < 28; code++) for (let n = 0; n < 1 << EXTRA_LBITS[code]; n++) LENGTH_CODE[length++] = code;
  LENGTH_CODE[length - 1] = code;
  let dist = 0;
  for (code = 0; code < 16; code++) for (let n = 0; n < 1 << EXTRA_DBITS[code]; n++) DIST_CODE[dist++] = code;
  dist >>= 7;
  for (; code < D_CODES; code++) for (let n = 0; n < 1 << (EXTRA_DBITS[code] - 7); n++) DIST_CODE[256 + dist++] = code;
}
const STATIC_LTREE_LEN = Array.from({ length: L_CODES + 2 }, (_, n) => (n < 144 ? 8 : n < 256 ? 9 : n < 280 ? 7 : 8));
const STATIC_DTREE_LEN = new Array<number>(D_CODES).fill(5);

const dCode = (dist: number): number => (dist < 256 ? DIST_CODE[dist] : DIST_CODE[256 + (dist >> 7)]);

/** One Huffman tree under construction (ct_data split into arrays). */
class Tree {
  readonly freq: Int32Array;
  readonly len: Int32Array;
  readonly dad: Int32Array;
  maxCode = -1;
  constructor(
    size: number,
    readonly elems: number,
    readonly staticLen: readonly number[] | undefined,
    readonly extra: readonly number[],
    readonly extraBase: number,
    readonly maxLength: number,
  ) {
    this.freq = new Int32Array(size);
    this.len = new Int32Array(size);
    this.dad = new Int32Array(size);
  }
}

class Sizer {
  optLen = 0;
  staticLen = 0;
  readonly heap = new Int32Array(HEAP_SIZE);
  heapLen = 0;
  heapMax = HEAP_SIZE;
  readonly depth = new Uint8Array(HEAP_SIZE);
  readonly blCount = new Int32Array(MAX_BITS + 1);

  smaller(t: Tree, n: number, m: number): boolean {
    return t.freq[n] < t.freq[m] || (t.freq[n] === t.freq[m] && this.depth[n] <= this.depth[m]);
  }

  downHeap(t: Tree, k: number): void {
    const heap = this.heap;
    const v = heap[k];
    let j = k << 1;
    while (j <= this.heapLen) {
      if (j < this.heapLen && this.smaller(t, heap[j + 1], heap[j])) j++;
      if (this.smaller(t, v, heap[j])) break;
      heap[k] = heap[j];
      k = j;
      j <<= 1;
    }
    heap[k] = v;
  }

  buildTree(t: Tree): void {
    const heap = this.heap;
    let maxCode = -1;
    this.heapLen = 0;
    this.heapMax = HEAP_SIZE;
    for (let n = 0; n < t.elems; n++) {
      if (t.freq[n] !== 0) {
        heap[++this.heapLen] = maxCode = n;
        this.depth[n] = 0;
      } else {
        t.len[n] = 0;
      }
    }
    // The format needs two codes at least: add dummy nodes, and take their cost back out.
    while (this.heapLen < 2) {
      const node = (heap[++this.heapLen] = maxCode < 2 ? ++maxCode : 0);
      t.freq[node] = 1;
      this.depth[node] = 0;
      this.optLen--;
      if (t.staticLen) this.staticLen -= t.staticLen[node];
    }
    t.maxCode = maxCode;
    for (let n = this.heapLen >> 1; n >= 1; n--) this.downHeap(t, n);
    let node = t.elems;
    do {
      const n = heap[1];
      heap[1] = heap[this.heapLen--];
      this.downHeap(t, 1);
      const m = heap[1];
      heap[--this.heapMax] = n;
      heap[--this.heapMax] = m;
      t.freq[node] = t.freq[n] + t.freq[m];
      this.depth[node] = (this.depth[n] >= this.depth[m] ? this.depth[n] : this.depth[m]) + 1;
      t.dad[n] = t.dad[m] = node;
      heap[1] = node++;
      this.downHeap(t, 1);
    } while (this.heapLen >= 2);
    heap[--this.heapMax] = heap[1];
    this.genBitlen(t);
  }

  /** Code lengths from the tree, limited to maxLength as zlib's gen_bitlen does; adds the bits to optLen/staticLen. */
  genBitlen(t: Tree): void {
    const heap = this.heap;
    this.blCount.fill(0);
    t.len[heap[this.heapMax]] = 0;
    let overflow = 0;
    let h = this.heapMax + 1;
    for (; h < HEAP_SIZE; h++) {
      const n = heap[h];
      let bits = t.len[t.dad[n]] + 1;
      if (bits > t.maxLength) {
        bits = t.maxLength;
        overflow++;
      }
      t.len[n] = bits;
      if (n > t.maxCode) continue;
      this.blCount[bits]++;
      const xbits = n >= t.extraBase ? t.extra[n - t.extraBase] : 0;
      const f = t.freq[n];
      this.optLen += f * (bits + xbits);
      if (t.staticLen) this.staticLen += f * (t.staticLen[n] + xbits);
    }
    if (overflow === 0) return;
    do {
      let bits = t.maxLength - 1;
      while (this.blCount[bits] === 0) bits--;
      this.blCount[bits]--;
      this.blCount[bits + 1] += 2;
      this.blCount[t.maxLength]--;
      overflow -= 2;
    } while (overflow > 0);
    for (let bits = t.maxLength; bits !== 0; bits--) {
      let n = this.blCount[bits];
      while (n !== 0) {
        const m = heap[--h];
        if (m > t.maxCode) continue;
        if (t.len[m] !== bits) {
          this.optLen += (bits - t.len[m]) * t.freq[m];
          t.len[m] = bits;
        }
        n--;
      }
    }
  }

  /** Frequencies of the code-length alphabet for sending `t`'s lengths (scan_tree). */
  scanTree(t: Tree, bl: Tree): void {
    let prevLen = -1;
    let nextLen = t.len[0];
    let count = 0;
    let maxCount = nextLen === 0 ? 138 : 7;
    let minCount = nextLen === 0 ? 3 : 4;
    t.len[t.maxCode + 1] = 0xffff; // guard
    for (let n = 0; n <= t.maxCode; n++) {
      const curLen = nextLen;
      nextLen = t.len[n + 1];
      if (++count < maxCount && curLen === nextLen) continue;
      if (count < minCount) bl.freq[curLen] += count;
      else if (curLen !== 0) {
        if (curLen !== prevLen) bl.freq[curLen]++;
        bl.freq[16]++;
      } else if (count <= 10) bl.freq[17]++;
      else bl.freq[18]++;
      count = 0;
      prevLen = curLen;
      if (nextLen === 0) {
        maxCount = 138;
        minCount = 3;
      } else if (curLen === nextLen) {
        maxCount = 6;
        minCount = 3;
      } else {
        maxCount = 7;
        minCount = 4;
      }
    }
  }
}

/** Bytes of the zlib stream (header + deflate + adler32) that stock zlib's compress() writes for `data`. */
export function zlibCompressedLength(data: Uint8Array): number | undefined {
  const n = data.length;
  if (n >= MAX_SYMBOLS) return undefined;
  // Bytes past the data read as zero, as zlib's WIN_INIT zeroing makes them.
  const window = new Uint8Array(n + 2 * MAX_MATCH);
  window.set(data);
  const head = new Int32Array(1 << HASH_BITS);
  const prev = new Int32Array(W_SIZE);
  const ltree = new Tree(HEAP_SIZE, L_CODES, STATIC_LTREE_LEN, EXTRA_LBITS, LITERALS + 1, MAX_BITS);
  const dtree = new Tree(2 * D_CODES + 1, D_CODES, STATIC_DTREE_LEN, EXTRA_DBITS, 0, MAX_BITS);
  const bltree = new Tree(2 * BL_CODES + 1, BL_CODES, undefined, EXTRA_BLBITS, 0, 7);
  ltree.freq[END_BLOCK] = 1;

  let insH = 0;
  if (n >= MIN_MATCH) insH = ((window[0] << HASH_SHIFT) ^ window[1]) & HASH_MASK;
  const insert = (str: number): number => {
    insH = ((insH << HASH_SHIFT) ^ window[str + MIN_MATCH - 1]) & HASH_MASK;
    const matchHead = head[insH];
    prev[str & (W_SIZE - 1)] = matchHead;
    head[insH] = str;
    return matchHead;
  };

  let strstart = 0;
  let lookahead = n;
  let matchLength = MIN_MATCH - 1;
  let matchStart = 0;
  let prevLength = MIN_MATCH - 1;
  let prevMatch = 0;
  let matchAvailable = false;

  const longestMatch = (curMatchIn: number): number => {
    let curMatch = curMatchIn;
    let chainLength = MAX_CHAIN;
    let bestLen = prevLength;
    let niceMatch = NICE_MATCH;
    const limit = strstart > MAX_DIST ? strstart - MAX_DIST : 0;
    const scan = strstart;
    let scanEnd1 = window[scan + bestLen - 1];
    let scanEnd = window[scan + bestLen];
    if (prevLength >= GOOD_MATCH) chainLength >>= 2;
    if (niceMatch > lookahead) niceMatch = lookahead;
    do {
      const match = curMatch;
      if (window[match + bestLen] !== scanEnd || window[match + bestLen - 1] !== scanEnd1 || window[match] !== window[scan] || window[match + 1] !== window[scan + 1]) continue;
      // Byte 2 is equal when the hashes and bytes 0-1 are; compare from byte 3 up to MAX_MATCH.
      let len = 3;
      while (len < MAX_MATCH && window[scan + len] === window[match + len]) len++;
      if (len > bestLen) {
        matchStart = curMatch;
        bestLen = len;
        if (len >= niceMatch) break;
        scanEnd1 = window[scan + bestLen - 1];
        scanEnd = window[scan + bestLen];
      }
    } while ((curMatch = prev[curMatch & (W_SIZE - 1)]) > limit && --chainLength !== 0);
    return bestLen <= lookahead ? bestLen : lookahead;
  };

  while (lookahead > 0) {
    let hashHead = 0;
    if (lookahead >= MIN_MATCH) hashHead = insert(strstart);
    prevLength = matchLength;
    prevMatch = matchStart;
    matchLength = MIN_MATCH - 1;
    if (hashHead !== 0 && prevLength < MAX_LAZY && strstart - hashHead <= MAX_DIST) {
      matchLength = longestMatch(hashHead);
      if (matchLength <= 5 && matchLength === MIN_MATCH && strstart - matchStart > TOO_FAR) matchLength = MIN_MATCH - 1;
    }
    if (prevLength >= MIN_MATCH && matchLength <= prevLength) {
      const maxInsert = strstart + lookahead - MIN_MATCH;
      const dist = strstart - 1 - prevMatch;
      ltree.freq[LENGTH_CODE[prevLength - MIN_MATCH] + LITERALS + 1]++;
      dtree.freq[dCode(dist - 1)]++;
      lookahead -= prevLength - 1;
      prevLength -= 2;
      do {
        if (++strstart <= maxInsert) insert(strstart);
      } while (--prevLength !== 0);
      matchAvailable = false;
      matchLength = MIN_MATCH - 1;
      strstart++;
    } else if (matchAvailable) {
      ltree.freq[window[strstart - 1]]++;
      strstart++;
      lookahead--;
    } else {
      matchAvailable = true;
      strstart++;
      lookahead--;
    }
  }
  if (matchAvailable) ltree.freq[window[strstart - 1]]++;

  // _tr_flush_block for the last (only) block.
  const sizer = new Sizer();
  sizer.buildTree(ltree);
  sizer.buildTree(dtree);
  sizer.scanTree(ltree, bltree);
  sizer.scanTree(dtree, bltree);
  sizer.buildTree(bltree);
  let maxBlindex = BL_CODES - 1;
  for (; maxBlindex >= 3; maxBlindex--) if (bltree.len[BL_ORDER[maxBlindex]] !== 0) break;
  sizer.optLen += 3 * (maxBlindex + 1) + 5 + 5 + 4;
  let optLenb = (sizer.optLen + 3 + 7) >> 3;
  const staticLenb = (sizer.staticLen + 3 + 7) >> 3;
  if (staticLenb <= optLenb) optLenb = staticLenb;
  // A stored block: 3 header bits padded to a byte, LEN and NLEN, then the data.
  const blockBytes = n + 4 <= optLenb ? 1 + 4 + n : optLenb;
  return 2 + blockBytes + 4;
}
