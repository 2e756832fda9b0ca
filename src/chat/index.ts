/** chat/: decoder-only language models on ONNX Runtime (and GGUF through llama.cpp), chat templates, sampling, JSON output, tools. */
export { chat, generate, GenerationRun, templateMessages } from './chat.js';
export type { ChatModel, ChatMessage, ChatOptions, ChatResult, ChatDelta, ContentPart, ResponseFormat, AssistantMessage, Engine } from './chat.js';
export { OnnxChatModel, onnxChatFile, CHAT_VARIANT_SUFFIXES } from './onnx-chat.js';
export type { ChatVariant, OnnxChatLoadOptions } from './onnx-chat.js';
export { DEFAULT_GENERATE } from './generate.js';
export type { GenerateOptions, Completion, FinishReason, TokenLogprob } from './generate.js';
export { DEFAULT_SAMPLING, Sampler, SeededRandom, checkSampling } from './sampling.js';
export type { SamplingOptions } from './sampling.js';
export { JsonGrammar, DEFAULT_JSON_LIMITS } from './json-grammar.js';
export type { JsonLimits } from './json-grammar.js';
export { GrammarConstraint } from './constraint.js';
export { parseToolCalls, toolCallGrammar } from './tools.js';
export type { ToolCall, ToolChoice, ToolDefinition } from './tools.js';
export { ChatTokenizer } from './tokenizer.js';
export { loadChatModel, localGguf, ENGINES } from './load.js';
export type { ChatLoadOptions } from './load.js';
export { DEFAULT_Q4_ACCURACY_LEVEL } from './onnx-chat.js';
