import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import {
  FIXTURE_TWIN,
  TERSE_WHISPER,
  TINY_WHISPER,
  decodeModel,
  ensureWhisperModel,
  ensureWhisperModelSync,
  specialLayout,
  writeWhisperModel,
  WHISPER_ONNX_FILES,
  type WhisperModelSpec,
} from './index.js';
import { ByteLevelBpe, nonSpeechTokens, parseMerges } from './bpe.js';
import {
  batchItem,
  concat,
  encode,
  exportSizes,
  features,
  fullDecode,
  logitRows,
  maxAbsDiff,
  mergedDecode,
  session,
  splitDecode,
} from './whisper-check.js';

const FIXTURE = resolve(process.cwd(), '../shared/models/whisper-tiny-random');
const SHARED_TOKENIZER = resolve(process.cwd(), '../shared/whisper/tokenizer');


/** A sot/language/task/notimestamps prompt and some text tokens. */
const TOKENS = [50258, 50259, 50359, 50363, 440, 1029, 293, 50, 2000, 13];

type Io = { name: string; elemType: number; dims: Array<string | number> };

function ios(values: ReadonlyArray<{ name?: string | null; type?: unknown }> | null | undefined): Io[] {
  return (values ?? []).map((v) => {
    const t = (v.type as { tensorType: { elemType: number; shape: { dim: Array<{ dimParam?: string; dimValue?: unknown }> } } }).tensorType;
    return { name: v.name as string, elemType: t.elemType, dims: t.shape.dim.map((d) => d.dimParam || Number(d.dimValue)) };
  });
}

function graphOf(path: string) {
  return decodeModel(readFileSync(path)).graph!;
}

function branches(path: string) {
  const graph = graphOf(path);
  assert.equal(graph.node!.length, 1, 'a merged decoder has one top-level node');
  const node = graph.node![0];
  assert.equal(node.opType, 'If');
  assert.deepEqual(node.input, ['use_cache_branch']);
  const branch = (name: string) => node.attribute!.find((a) => a.name === name)!.g!;
  return { graph, node, withPast: branch('then_branch'), noPast: branch('else_branch') };
}

/** Symbolic-only signature: names, dtypes, ranks and the dim_params at their positions. */
function signature(values: readonly Io[]): Array<[string, number, number, string]> {
  return values.map((v) => [v.name, v.elemType, v.dims.length, v.dims.map((d) => (typeof d === 'string' ? d : '#')).join(',')]);
}

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'moxing-models-'));
  tempDirs.push(dir);
  return dir;
}
process.on('exit', () => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('generated Whisper: export layout', () => {
  test('the fixture-sized twin has every input and output of every file exactly as the fixture', async () => {
    const dir = await ensureWhisperModel(FIXTURE_TWIN);
    for (const file of WHISPER_ONNX_FILES) {
      const ours = decodeModel(readFileSync(join(dir, 'onnx', `${file}.onnx`)));
      const theirs = decodeModel(readFileSync(join(FIXTURE, 'onnx', `${file}.onnx`)));
      assert.deepEqual(ios(ours.graph!.input), ios(theirs.graph!.input), `${file} inputs`);
      assert.deepEqual(ios(ours.graph!.output), ios(theirs.graph!.output), `${file} outputs`);
      assert.deepEqual(
        ours.opsetImport!.map((o) => [o.domain, Number(o.version)]),
        theirs.opsetImport!.map((o) => [o.domain, Number(o.version)]),
        `${file} opset`,
      );
      assert.equal(Number(ours.irVersion), Number(theirs.irVersion));
    }
  });

  test('the merged decoders have one If node whose branches return what the fixture returns', async () => {
    const dir = await ensureWhisperModel(FIXTURE_TWIN);
    for (const file of ['decoder_model_merged', 'decoder_model_merged_timestamped']) {
      const ours = branches(join(dir, 'onnx', `${file}.onnx`));
      const theirs = branches(join(FIXTURE, 'onnx', `${file}.onnx`));
      assert.deepEqual([ours.node.name, ours.node.output], [theirs.node.name, theirs.node.output]);
      assert.deepEqual([ours.withPast.name, ours.noPast.name], [theirs.withPast.name, theirs.noPast.name]);
      assert.deepEqual(ios(ours.withPast.output), ios(theirs.withPast.output), `${file} with_past outputs`);
      assert.deepEqual(ios(ours.noPast.output), ios(theirs.noPast.output), `${file} no_past outputs`);
      assert.equal((ours.withPast.input ?? []).length + (ours.noPast.input ?? []).length, 0, 'branches read the outer scope');
      // optimum's with-past branch returns constant empty encoder presents [0, H, 1, Dh].
      const emptyPresents = (g: typeof ours.withPast) =>
        (g.node ?? [])
          .filter((n) => n.opType === 'Constant' && n.output![0].includes('.encoder.'))
          .map((n) => [n.output![0], n.attribute![0].t!.dims!.map(Number)]);
      assert.deepEqual(emptyPresents(ours.withPast), emptyPresents(theirs.withPast));
      assert.ok(ours.graph.initializer!.length > 0 && (ours.withPast.initializer ?? []).length === 0, 'weights live in the outer graph');
    }
  });

  test('TINY_WHISPER has the fixture’s names, dtypes, ranks and dim_params (up to its layer count)', async () => {
    const dir = await ensureWhisperModel(TINY_WHISPER);
    const layerOk = (name: string) => {
      const layer = /\.(\d+)(\.|$)/.exec(name);
      return !layer || Number(layer[1]) < TINY_WHISPER.decoderLayers;
    };
    for (const file of WHISPER_ONNX_FILES) {
      const ours = graphOf(join(dir, 'onnx', `${file}.onnx`));
      const theirs = graphOf(join(FIXTURE, 'onnx', `${file}.onnx`));
      for (const side of ['input', 'output'] as const) {
        const expected = signature(ios(theirs[side]).filter((v) => layerOk(v.name)));
        assert.deepEqual(signature(ios(ours[side])), expected, `${file} ${side}s`);
      }
    }
  });

  test('the side files of the fixture-sized twin are byte-identical to the fixture’s', async () => {
    const dir = await ensureWhisperModel(FIXTURE_TWIN);
    const names = readdirSync(FIXTURE).filter((n) => n.endsWith('.json') || n.endsWith('.txt'));
    assert.ok(names.length >= 10);
    for (const name of names) assert.ok(readFileSync(join(dir, name)).equals(readFileSync(join(FIXTURE, name))), name);
  });
});

test('the terse twin: the fixture twin\'s weights but a 2.35x end-of-text row (tied: also its output row)', async () => {
  const embedding = (dir: string): Float32Array => {
    const graph = decodeModel(readFileSync(join(dir, 'onnx', 'decoder_model.onnx'))).graph!;
    const raw = graph.initializer!.find((t) => t.name === 'model.decoder.embed_tokens.weight')!.rawData as Uint8Array;
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  };
  const twin = embedding(await ensureWhisperModel(FIXTURE_TWIN));
  const terse = embedding(ensureWhisperModelSync(TERSE_WHISPER));
  const d = FIXTURE_TWIN.dModel;
  const eot = specialLayout('multilingual').eot;
  assert.equal(terse.length, twin.length);
  for (let i = 0; i < twin.length; i++) {
    const expected = Math.floor(i / d) === eot ? twin[i] * 2.35 : twin[i];
    if (Math.abs(terse[i] - expected) > 1e-6) assert.fail(`weight ${i} (row ${Math.floor(i / d)}): ${terse[i]} != ${expected}`);
  }
});

describe('generated Whisper: determinism and caching', () => {
  const spec: WhisperModelSpec = { name: 'det', dModel: 32, encoderLayers: 1, decoderLayers: 1, heads: 2, nMels: 80, vocab: 'multilingual', seed: 5, files: ['encoder_model', 'decoder_model_merged'] };

  test('the same seed writes byte-identical files; another seed writes other weights', () => {
    const [a, b, c] = [tempDir(), tempDir(), tempDir()];
    writeWhisperModel(spec, join(a, 'm'));
    writeWhisperModel(spec, join(b, 'm'));
    writeWhisperModel({ ...spec, seed: 6 }, join(c, 'm'));
    for (const file of ['encoder_model', 'decoder_model_merged']) {
      const path = (root: string) => join(root, 'm', 'onnx', `${file}.onnx`);
      assert.ok(readFileSync(path(a)).equals(readFileSync(path(b))), `${file} differs between two runs`);
      assert.ok(!readFileSync(path(a)).equals(readFileSync(path(c))), `${file} ignores the seed`);
    }
  });

  test('ensureWhisperModel caches by spec and leaves no temporary folder behind', async () => {
    const root = tempDir();
    const [one, two] = await Promise.all([ensureWhisperModel(spec, { root }), ensureWhisperModel(spec, { root })]);
    assert.equal(one, two);
    const again = await ensureWhisperModel(spec, { root });
    assert.equal(again, one);
    const other = await ensureWhisperModel({ ...spec, seed: 9 }, { root });
    assert.notEqual(other, one);
    assert.deepEqual(readdirSync(root).filter((n) => n.startsWith('.tmp')), []);
    assert.deepEqual(readdirSync(join(one, 'onnx')).sort(), ['decoder_model_merged.onnx', 'encoder_model.onnx']);
  });
});

/** The same equivalences on a generated model and on the shared fixture, so each check is shown to hold on a real export. */
for (const [label, dirOf] of [
  ['generated TINY_WHISPER', () => ensureWhisperModel(TINY_WHISPER)],
  ['shared fixture', async () => FIXTURE],
] as const) {
  describe(`decoder equivalences: ${label}`, () => {
    const setup = (async () => {
      const dir = await dirOf();
      const sizes = await exportSizes(dir);
      const hidden = await encode(dir, features(2, sizes.nMels, 3));
      const first = batchItem(hidden, 0);
      const full = await fullDecode(dir, [TOKENS], first);
      return { dir, sizes, hidden, first, full: full.logits.data as Float32Array };
    })();

    test('merged decoder, cached one token at a time == full recompute (1e-4)', async () => {
      const { dir, first, full } = await setup;
      const merged = await mergedDecode(dir, 'decoder_model_merged', [TOKENS], first, 4);
      assert.equal(merged.logits.length, TOKENS.length - 4 + 1);
      assert.ok(maxAbsDiff(concat(merged.logits), full) < 1e-4);
    });

    test('merged decoder, several tokens per cached step (positions offset by the past) == full recompute', async () => {
      const { dir, first, full } = await setup;
      const merged = await mergedDecode(dir, 'decoder_model_merged', [TOKENS], first, 2, 3);
      assert.ok(maxAbsDiff(concat(merged.logits), full) < 1e-4);
    });

    test('split pair (decoder_model + decoder_with_past_model) == merged decoder', async () => {
      const { dir, first, full } = await setup;
      const split = concat(await splitDecode(dir, [TOKENS], first, 4));
      const merged = concat((await mergedDecode(dir, 'decoder_model_merged', [TOKENS], first, 4)).logits);
      assert.ok(maxAbsDiff(split, merged) < 1e-5);
      assert.ok(maxAbsDiff(split, full) < 1e-4);
    });

    test('the with-past branch returns empty encoder presents; decoder presents grow by the new tokens', async () => {
      const { dir, first, sizes } = await setup;
      const { steps } = await mergedDecode(dir, 'decoder_model_merged', [TOKENS], first, 4);
      assert.deepEqual(steps[0]['present.0.encoder.key'].dims, [1, sizes.heads, 1500, sizes.headDim]);
      assert.deepEqual(steps[1]['present.0.encoder.key'].dims, [0, sizes.heads, 1, sizes.headDim]);
      assert.deepEqual(steps[1]['present.0.decoder.value'].dims, [1, sizes.heads, 5, sizes.headDim]);
    });

    test('decoding is causal: a changed token changes its own and later logits only', async () => {
      const { dir, first, full, sizes } = await setup;
      const changed = [...TOKENS];
      changed[6] = 1000;
      const other = (await fullDecode(dir, [changed], first)).logits;
      const v = sizes.vocab;
      assert.ok(maxAbsDiff(logitRows(other, 0, 0, 6), full.subarray(0, 6 * v)) < 1e-5);
      for (let t = 6; t < TOKENS.length; t++) assert.ok(maxAbsDiff(logitRows(other, 0, t, t + 1), full.subarray(t * v, (t + 1) * v)) > 1e-4, `position ${t}`);
    });

    test('a batch of two == two single runs (encoder and merged decoder)', async () => {
      const { dir, hidden, sizes } = await setup;
      const singles = [await encode(dir, batchItem(features(2, sizes.nMels, 3), 0)), await encode(dir, batchItem(features(2, sizes.nMels, 3), 1))];
      for (const b of [0, 1]) assert.ok(maxAbsDiff(batchItem(hidden, b).data as Float32Array, singles[b].data as Float32Array) < 1e-4);
      const rows = [TOKENS, [...TOKENS.slice(0, 4), 7, 8, 9, 10, 11, 12]];
      const batched = await mergedDecode(dir, 'decoder_model_merged', rows, hidden, 4);
      for (const b of [0, 1]) {
        const single = await mergedDecode(dir, 'decoder_model_merged', [rows[b]], batchItem(hidden, b), 4);
        batched.steps.forEach((step, i) => {
          const t = step.logits.dims[1] as number;
          assert.ok(maxAbsDiff(logitRows(step.logits, b, 0, t), single.logits[i]) < 1e-4, `item ${b} step ${i}`);
        });
      }
    });

    test('timestamped merged decoder: same logits, plus cross_attentions [B, H, T, 1500] that sum to 1', async () => {
      const { dir, first, sizes } = await setup;
      const plain = await mergedDecode(dir, 'decoder_model_merged', [TOKENS], first, 4);
      const timed = await mergedDecode(dir, 'decoder_model_merged_timestamped', [TOKENS], first, 4);
      assert.ok(maxAbsDiff(concat(timed.logits), concat(plain.logits)) < 1e-6);
      for (const [i, step] of timed.steps.entries()) {
        const t = i === 0 ? 4 : 1;
        const attention = step[`cross_attentions.${sizes.layers - 1}`];
        assert.deepEqual(attention.dims, [1, sizes.heads, t, 1500]);
        const data = attention.data as Float32Array;
        for (let row = 0; row < sizes.heads * t; row++) {
          const sum = data.subarray(row * 1500, (row + 1) * 1500).reduce((a, b) => a + b, 0);
          assert.ok(Math.abs(sum - 1) < 1e-4);
        }
      }
    });
  });
}

describe('generated Whisper: other vocabularies and sizes', () => {
  const small = { dModel: 32, encoderLayers: 1, decoderLayers: 1, heads: 2, seed: 3 } as const;

  test('128 mel bins load, run, and carry the large-v3 vocabulary (51866 ids, <|yue|>)', async () => {
    const dir = await ensureWhisperModel({ ...small, name: 'v3-test', nMels: 128, vocab: 'multilingual' });
    const hidden = await encode(dir, features(1, 128, 1));
    assert.deepEqual(hidden.dims, [1, 1500, 32]);
    const { logits } = await mergedDecode(dir, 'decoder_model_merged', [[50258, 50259, 50360, 50364, 440]], hidden, 4);
    assert.equal(logits[0].length, 4 * 51866);
    const generation = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8'));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.equal(config.num_mel_bins, 128);
    assert.equal(config.vocab_size, 51866);
    assert.equal(JSON.parse(readFileSync(join(dir, 'preprocessor_config.json'), 'utf8')).feature_size, 128);
    assert.equal(generation.lang_to_id['<|yue|>'], 50358);
    assert.deepEqual(generation.task_to_id, { transcribe: 50360, translate: 50359 });
    assert.equal(generation.no_timestamps_token_id, 50364);
    assert.equal(Object.keys(generation.lang_to_id).length, 100);
    const tokenizer = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    const added = Object.fromEntries(tokenizer.added_tokens.map((t: { content: string; id: number }) => [t.content, t.id]));
    assert.equal(added['<|nospeech|>'], 50363);
    assert.equal(added['<|notimestamps|>'], generation.no_timestamps_token_id);
  });

  test('.en models: GPT-2 BPE, eot 50256, sot 50257, notimestamps 50362, 51864 ids, no language maps', async () => {
    const dir = await ensureWhisperModel({ ...small, name: 'en-test', nMels: 80, vocab: 'english' });
    const { logits } = await mergedDecode(dir, 'decoder_model_merged', [[50257, 50362, 15496]], await encode(dir, features(1, 80, 2)), 2);
    assert.equal(logits[0].length, 2 * 51864);
    const generation = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8'));
    assert.equal(generation.is_multilingual, false);
    assert.equal(generation.eos_token_id, 50256);
    assert.equal(generation.decoder_start_token_id, 50257);
    assert.equal(generation.no_timestamps_token_id, 50362);
    assert.equal(generation.lang_to_id, undefined);
    assert.deepEqual(generation.suppress_tokens.slice(-6), [50257, 50357, 50358, 50359, 50360, 50361]);
    assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).vocab_size, 51864);
    const tokenizer = new Tokenizer(
      JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
      JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
    );
    // GPT-2's ids: "Hello" 15496, " world" 995; the multilingual BPE gives others.
    assert.deepEqual(tokenizer.encode('Hello world', { add_special_tokens: false }).ids, [15496, 995]);
    assert.equal(specialLayout('english').vocabSize, 51864);
  });

  test('the non-speech rule reproduces the shared multilingual suppress_tokens (so the .en set is derived alike)', () => {
    const bpe = new ByteLevelBpe(
      JSON.parse(readFileSync(join(SHARED_TOKENIZER, 'vocab.json'), 'utf8')),
      parseMerges(readFileSync(join(SHARED_TOKENIZER, 'merges.txt'), 'utf8')),
    );
    const shared = JSON.parse(readFileSync(join(SHARED_TOKENIZER, 'generation_config.json'), 'utf8')).suppress_tokens as number[];
    assert.deepEqual(nonSpeechTokens(bpe), shared.filter((t) => t < 50257));
  });

  test('a spec whose width does not split into heads is refused', () => {
    assert.throws(() => writeWhisperModel({ ...small, name: 'bad', heads: 3, nMels: 80, vocab: 'multilingual' }, join(tempDir(), 'x')), /heads/);
  });

  test('sessions report the spec’s sizes', async () => {
    const dir = await ensureWhisperModel(TINY_WHISPER);
    assert.deepEqual(await exportSizes(dir), { layers: 2, heads: 2, headDim: 32, dModel: 64, nMels: 80, vocab: 51865 });
    assert.ok((await session(dir, 'decoder_with_past_model')).inputNames.includes('past_key_values.1.encoder.value'));
  });
});
