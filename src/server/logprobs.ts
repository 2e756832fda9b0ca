/**
 * OpenAI's `logprobs` of a transcript (`include[]=logprobs`): `{token, logprob, bytes}` for each token of the
 * text, with the decoder's own log-probabilities (Segment.tokenLogprobs). Timestamp tokens are not text and are
 * left out. A token is given the text it completes: byte-level BPE can split a character over several tokens,
 * whose text is then "" until the last of them, so the tokens' texts always add up to the transcript's. Bytes
 * that can never make a character (a lead byte followed by ASCII, which random and real decoders both emit)
 * become U+FFFD at once, as the transcript's decode has them, instead of holding back every later token's text.
 * `bytes` are each token's own bytes.
 */
import type { Segment } from '../asr/types.js';
import { MoxingError } from '../errors.js';

export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
}

/** What the texts need of the model's tokenizer. */
export interface LogprobTokenizer {
  readonly timestampBegin: number;
  tokenBytes(id: number): Uint8Array;
}

/** Turns segments into OpenAI's entries as they come (a character split over two segments completes in the second). */
export class LogprobTexts {
  /** A streaming decoder: it returns what the bytes so far complete and keeps an unfinished character's bytes. */
  private readonly utf8 = new TextDecoder('utf-8');
  private readonly entries: TokenLogprob[] = [];

  constructor(private readonly tokenizer: LogprobTokenizer) {}

  /** The entries of `segment`'s text tokens, untrimmed, as its stream delta carries them. */
  add(segment: Segment): TokenLogprob[] {
    return this.addTokens(segment.tokens, segment.tokenLogprobs);
  }

  /** The entries of `tokens` (timestamps left out), `logprobs` being theirs. */
  addTokens(tokens: readonly number[], logprobs: readonly number[] | undefined): TokenLogprob[] {
    if (logprobs === undefined || logprobs.length !== tokens.length) throw new MoxingError('INTERNAL', 'the tokens have no log-probs');
    const out: TokenLogprob[] = [];
    tokens.forEach((id, i) => {
      if (id >= this.tokenizer.timestampBegin) return;
      const bytes = this.tokenizer.tokenBytes(id);
      out.push({ token: this.utf8.decode(bytes, { stream: true }), logprob: logprobs[i], bytes: [...bytes] });
    });
    this.entries.push(...out);
    return out.map((e) => ({ ...e }));
  }

  /**
   * Every entry so far, trimmed as the transcript's text is. Bytes left undecodable at the end go to the last
   * token as the decoder's text has them (U+FFFD).
   */
  done(): TokenLogprob[] {
    const last = this.entries.at(-1);
    const rest = this.utf8.decode();
    if (last) last.token += rest;
    return trimLogprobs(this.entries);
  }
}

/** The whole transcript's entries, as the `json` answer and `transcript.text.done` carry them: the text is trimmed, so are they. */
export function transcriptLogprobs(segments: readonly Segment[], tokenizer: LogprobTokenizer): TokenLogprob[] {
  const texts = new LogprobTexts(tokenizer);
  for (const segment of segments) texts.add(segment);
  return texts.done();
}

/** The entries with the leading and trailing whitespace of their joined text removed, as String.trim does. */
export function trimLogprobs(entries: readonly TokenLogprob[]): TokenLogprob[] {
  const out = entries.map((e) => ({ ...e }));
  for (const e of out) {
    e.token = e.token.trimStart();
    if (e.token !== '') break;
  }
  for (let i = out.length - 1; i >= 0; i--) {
    out[i].token = out[i].token.trimEnd();
    if (out[i].token !== '') break;
  }
  return out;
}
