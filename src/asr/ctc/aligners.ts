/**
 * Default forced-alignment model per language: WhisperX's `DEFAULT_ALIGN_MODELS_TORCH` and
 * `DEFAULT_ALIGN_MODELS_HF` (whisperx/alignment.py), with each torchaudio bundle replaced by the Hugging Face
 * checkpoint it was made from. Most of these repos ship PyTorch weights only: export them to ONNX
 * (`optimum-cli export onnx --model <repo> <dir>`) or use the ONNX repo named in `onnx` where one is known.
 */
import { MoxingError } from '../../errors.js';

export interface AlignerEntry {
  /** The Hugging Face checkpoint (PyTorch) WhisperX uses. */
  readonly model: string;
  /** A repo with a ready ONNX export of the same weights (onnx/model.onnx), when one is known. */
  readonly onnx?: string;
  /** Where WhisperX takes it from: a torchaudio pipeline bundle (named) or the Hugging Face hub. */
  readonly source: string;
}

const torchaudio = (bundle: string, model: string, onnx?: string): AlignerEntry =>
  Object.freeze({ model, source: `torchaudio ${bundle}`, ...(onnx ? { onnx } : {}) });
const hf = (model: string): AlignerEntry => Object.freeze({ model, source: 'huggingface' });

export const DEFAULT_ALIGN_MODELS: Readonly<Record<string, AlignerEntry>> = Object.freeze({
  en: torchaudio('WAV2VEC2_ASR_BASE_960H', 'facebook/wav2vec2-base-960h', 'Xenova/wav2vec2-base-960h'),
  fr: torchaudio('VOXPOPULI_ASR_BASE_10K_FR', 'facebook/wav2vec2-base-10k-voxpopuli-ft-fr'),
  de: torchaudio('VOXPOPULI_ASR_BASE_10K_DE', 'facebook/wav2vec2-base-10k-voxpopuli-ft-de'),
  es: torchaudio('VOXPOPULI_ASR_BASE_10K_ES', 'facebook/wav2vec2-base-10k-voxpopuli-ft-es'),
  it: torchaudio('VOXPOPULI_ASR_BASE_10K_IT', 'facebook/wav2vec2-base-10k-voxpopuli-ft-it'),
  ja: hf('jonatasgrosman/wav2vec2-large-xlsr-53-japanese'),
  zh: hf('jonatasgrosman/wav2vec2-large-xlsr-53-chinese-zh-cn'),
  nl: hf('jonatasgrosman/wav2vec2-large-xlsr-53-dutch'),
  uk: hf('Yehor/wav2vec2-xls-r-300m-uk-with-small-lm'),
  pt: hf('jonatasgrosman/wav2vec2-large-xlsr-53-portuguese'),
  ar: hf('jonatasgrosman/wav2vec2-large-xlsr-53-arabic'),
  cs: hf('comodoro/wav2vec2-xls-r-300m-cs-250'),
  ru: hf('jonatasgrosman/wav2vec2-large-xlsr-53-russian'),
  pl: hf('jonatasgrosman/wav2vec2-large-xlsr-53-polish'),
  hu: hf('jonatasgrosman/wav2vec2-large-xlsr-53-hungarian'),
  fi: hf('jonatasgrosman/wav2vec2-large-xlsr-53-finnish'),
  fa: hf('jonatasgrosman/wav2vec2-large-xlsr-53-persian'),
  el: hf('jonatasgrosman/wav2vec2-large-xlsr-53-greek'),
  tr: hf('mpoyraz/wav2vec2-xls-r-300m-cv7-turkish'),
  da: hf('saattrupdan/wav2vec2-xls-r-300m-ftspeech'),
  he: hf('imvladikon/wav2vec2-xls-r-300m-hebrew'),
  vi: hf('nguyenvulebinh/wav2vec2-base-vi-vlsp2020'),
  ko: hf('kresnik/wav2vec2-large-xlsr-korean'),
  ur: hf('kingabzpro/wav2vec2-large-xls-r-300m-Urdu'),
  te: hf('anuragshas/wav2vec2-large-xlsr-53-telugu'),
  hi: hf('theainerd/Wav2Vec2-large-xlsr-hindi'),
  ca: hf('softcatala/wav2vec2-large-xlsr-catala'),
  ml: hf('gvs/wav2vec2-large-xlsr-malayalam'),
  no: hf('NbAiLab/nb-wav2vec2-1b-bokmaal-v2'),
  nn: hf('NbAiLab/nb-wav2vec2-1b-nynorsk'),
  sk: hf('comodoro/wav2vec2-xls-r-300m-sk-cv8'),
  sl: hf('anton-l/wav2vec2-large-xlsr-53-slovenian'),
  hr: hf('classla/wav2vec2-xls-r-parlaspeech-hr'),
  ro: hf('gigant/romanian-wav2vec2'),
  eu: hf('stefan-it/wav2vec2-large-xlsr-53-basque'),
  gl: hf('ifrz/wav2vec2-large-xlsr-galician'),
  ka: hf('xsway/wav2vec2-large-xlsr-georgian'),
  lv: hf('jimregan/wav2vec2-large-xlsr-latvian-cv'),
  tl: hf('Khalsuu/filipino-wav2vec2-l-xls-r-300m-official'),
  sv: hf('KBLab/wav2vec2-large-voxrex-swedish'),
  id: hf('cahya/wav2vec2-large-xlsr-indonesian'),
});

/** The default aligner for a language, or a MoxingError that says how to pick one. */
export function defaultAligner(language: string): AlignerEntry {
  const entry = Object.hasOwn(DEFAULT_ALIGN_MODELS, language) ? DEFAULT_ALIGN_MODELS[language] : undefined;
  if (!entry) {
    throw new MoxingError(
      'BAD_ARGUMENT',
      `no default alignment model for language "${language}" (defaults exist for ${Object.keys(DEFAULT_ALIGN_MODELS).join(', ')}). ` +
        'Pass --align-model with a wav2vec2 CTC model fine-tuned on this language, exported to ONNX.',
    );
  }
  return entry;
}
