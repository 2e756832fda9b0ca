/**
 * LocalAgreement-2 as ufal/whisper_streaming does it (whisper_online.py, `HypothesisBuffer` and the parts of
 * `OnlineASRProcessor` that are pure bookkeeping): the buffer is re-decoded again and again, and a word is
 * committed once two consecutive hypotheses agree on it (the longest common word prefix). Pure: the decoding
 * runs elsewhere (transcriber.ts), so the commit logic is tested on scripted hypotheses.
 */

/** One hypothesised word, times in seconds of the stream. `word` keeps Whisper's leading space. */
export interface TimedWord {
  readonly start: number;
  readonly end: number;
  readonly word: string;
  /** With LiveOptions.tokenLogprobs: the word's tokens and the log-prob of each in the decode that gave the word. */
  readonly tokens?: readonly number[];
  readonly logprobs?: readonly number[];
  /** Mean token probability of the word: only with word timestamps (openai `probability`). */
  readonly probability?: number;
}

/** whisper_streaming's `HypothesisBuffer`. */
export class HypothesisBuffer {
  /** Committed words still inside the audio buffer (trimmed with it). */
  private committedInBuffer: TimedWord[] = [];
  /** The previous hypothesis past the committed words. */
  private buffer: TimedWord[] = [];
  /** The newest hypothesis past the committed words. */
  private incoming: TimedWord[] = [];
  private lastCommittedTime = 0;

  /**
   * Takes a new hypothesis of the buffer (times relative to it, shifted by `offset`): only the words that
   * start after the last commit (less 0.1 s) are kept, and an n-gram (1 to 5 words) that repeats the tail of
   * the committed words at its head is dropped, as whisper_streaming does.
   */
  insert(words: readonly TimedWord[], offset: number): void {
    const shifted = words.map((w) => shiftWord(w, offset));
    this.incoming = shifted.filter((w) => w.start > this.lastCommittedTime - 0.1);
    if (this.incoming.length === 0 || Math.abs(this.incoming[0].start - this.lastCommittedTime) >= 1) return;
    const committed = this.committedInBuffer.length;
    for (let n = 1; n <= Math.min(committed, this.incoming.length, 5); n++) {
      const tail = this.committedInBuffer.slice(committed - n).map((w) => normalized(w.word)).join(' ');
      const head = this.incoming.slice(0, n).map((w) => normalized(w.word)).join(' ');
      if (tail === head) {
        this.incoming.splice(0, n);
        break;
      }
    }
  }

  /** Commits the longest common prefix of the last two hypotheses and returns it. */
  flush(): TimedWord[] {
    const commit: TimedWord[] = [];
    while (this.incoming.length > 0 && this.buffer.length > 0 && normalized(this.incoming[0].word) === normalized(this.buffer[0].word)) {
      const word = this.incoming.shift()!;
      this.buffer.shift();
      commit.push(word);
      this.lastCommittedTime = word.end;
    }
    this.buffer = this.incoming;
    this.incoming = [];
    this.committedInBuffer.push(...commit);
    return commit;
  }

  /** Forgets committed words that end by `time` (the audio buffer was trimmed there). */
  popCommitted(time: number): void {
    while (this.committedInBuffer.length > 0 && this.committedInBuffer[0].end <= time) this.committedInBuffer.shift();
  }

  /** The uncommitted words of the last hypothesis. */
  complete(): readonly TimedWord[] {
    return this.buffer;
  }
}

/** `word` moved by `offset` seconds (a buffer's start in the stream). */
export function shiftWord(word: TimedWord, offset: number): TimedWord {
  return { ...word, start: toMs(word.start + offset), end: toMs(word.end + offset) };
}

/** Seconds rounded to the millisecond, so that times shifted by an offset print as they should. */
export function toMs(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/** Words compare as whisper_streaming compares them, by their text; our words carry Whisper's leading space. */
function normalized(word: string): string {
  return word.trim();
}

/** Characters of committed text a decode is prompted with (whisper_streaming's 200). */
export const PROMPT_CHARS = 200;

/**
 * whisper_streaming's `OnlineASRProcessor.prompt()`: the committed words before the buffer (those inside it
 * are the buffer's own text), the latest ones up to `PROMPT_CHARS` characters.
 */
export function promptText(committed: readonly TimedWord[], bufferOffset: number, maxChars = PROMPT_CHARS): string {
  let k = Math.max(0, committed.length - 1);
  while (k > 0 && committed[k - 1].end > bufferOffset) k--;
  const words = committed.slice(0, k).map((w) => w.word.trim());
  const prompt: string[] = [];
  let length = 0;
  while (words.length > 0 && length < maxChars) {
    const word = words.pop()!;
    length += word.length + 1;
    prompt.push(word);
  }
  return prompt.reverse().join(' ');
}

/**
 * whisper_streaming's `chunk_completed_segment`: where to trim the audio buffer, given the ends of the last
 * decode's segments (seconds from the buffer start) and the end of the last committed word: the end of the
 * second-to-last segment, moved back while it lies past the committed text. Undefined: do not trim.
 */
export function trimPoint(segmentEnds: readonly number[], bufferOffset: number, lastCommittedEnd: number | undefined): number | undefined {
  if (lastCommittedEnd === undefined || segmentEnds.length < 2) return undefined;
  const ends = [...segmentEnds];
  let end = ends[ends.length - 2] + bufferOffset;
  while (ends.length > 2 && end > lastCommittedEnd) {
    ends.pop();
    end = ends[ends.length - 2] + bufferOffset;
  }
  return end <= lastCommittedEnd ? end : undefined;
}
