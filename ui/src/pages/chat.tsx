/**
 * Chat: talk with one of the server's chat models through /v1/chat/completions, the answer streamed in as SSE
 * chunks arrive. The conversation is the page's history (sent whole with each turn, as OpenAI's API wants);
 * pictures are attached as image_url parts with data: URLs (a vision model reads them, a text model answers 400,
 * shown in words).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { apiFetch, apiJson, describeError, readAsDataUrl } from '../api.js';

type Part = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string } };

interface Message {
  role: 'user' | 'assistant';
  content: string | Part[];
}

const MODEL_STORAGE = 'moxing.chatModel';

export function ChatPage() {
  const [models, setModels] = useState<string[]>([]);
  const [model, setModel] = useState(() => localStorage.getItem(MODEL_STORAGE) ?? '');
  const [history, setHistory] = useState<Message[]>([]);
  const [draft, setDraft] = useState('');
  const [images, setImages] = useState<string[]>([]);
  const [answer, setAnswer] = useState<string | undefined>(undefined);
  const [temperature, setTemperature] = useState(0.7);
  const [maxTokens, setMaxTokens] = useState(256);
  const [error, setError] = useState('');
  const running = useRef<AbortController | undefined>(undefined);

  useEffect(() => {
    apiJson<{ data: { id: string }[] }>('/v1/models').then(
      (list) => {
        const ids = list.data.map((m) => m.id);
        setModels(ids);
        setModel((current) => (ids.includes(current) ? current : (ids[0] ?? '')));
      },
      (e: unknown) => setError(`The models could not be listed: ${describeError(e)}`),
    );
    return () => running.current?.abort();
  }, []);

  const send = async () => {
    const text = draft.trim();
    if ((text === '' && images.length === 0) || running.current) return;
    const content: Message['content'] = images.length === 0 ? text : [...(text ? [{ type: 'text' as const, text }] : []), ...images.map((url) => ({ type: 'image_url' as const, image_url: { url } }))];
    const asked = [...history, { role: 'user' as const, content }];
    setError('');
    setHistory(asked);
    setDraft('');
    setImages([]);
    setAnswer('');
    const controller = new AbortController();
    running.current = controller;
    let received = '';
    try {
      for await (const delta of streamChat({ model, messages: asked, temperature, max_tokens: maxTokens }, controller.signal)) {
        received += delta;
        setAnswer(received);
      }
      setHistory([...asked, { role: 'assistant', content: received }]);
    } catch (e) {
      // The question stays on the page, the failed answer does not join the history.
      if (!controller.signal.aborted) setError(`The answer failed: ${describeError(e)}`);
      else if (received) setHistory([...asked, { role: 'assistant', content: received }]);
    } finally {
      running.current = undefined;
      setAnswer(undefined);
    }
  };

  const attach = async (files: FileList | null | undefined) => {
    for (const file of Array.from(files ?? [])) {
      try {
        const url = await readAsDataUrl(file);
        setImages((current) => [...current, url]);
      } catch (e) {
        setError(describeError(e));
      }
    }
  };

  return (
    <div class="page chat">
      <h1>Chat</h1>
      <fieldset>
        <legend>Settings</legend>
        <label>
          Model
          <select
            value={model}
            onChange={(e) => {
              setModel(e.currentTarget.value);
              localStorage.setItem(MODEL_STORAGE, e.currentTarget.value);
            }}
          >
            {models.map((id) => (
              <option value={id}>{id}</option>
            ))}
          </select>
        </label>
        <label>
          Temperature
          <input type="number" min={0} max={2} step={0.1} value={temperature} onChange={(e) => setTemperature(Math.max(0, Math.min(2, Number(e.currentTarget.value) || 0)))} />
        </label>
        <label>
          Max tokens
          <input type="number" min={1} max={32768} value={maxTokens} onChange={(e) => setMaxTokens(Math.max(1, Math.floor(Number(e.currentTarget.value) || 1)))} />
        </label>
        <button type="button" class="secondary" disabled={history.length === 0 || answer !== undefined} onClick={() => { setHistory([]); setError(''); }}>
          New chat
        </button>
      </fieldset>
      <ol class="messages" aria-live="polite" data-testid="chat-messages">
        {history.map((message) => (
          <li class={`message ${message.role}`} data-role={message.role}>
            <MessageBody content={message.content} />
          </li>
        ))}
        {answer !== undefined && (
          <li class="message assistant streaming" data-role="assistant" aria-busy="true">
            {answer || '…'}
          </li>
        )}
      </ol>
      {error && <p class="error" role="alert">{error}</p>}
      <form
        class="composer"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <label class="grow">
          Message
          <textarea
            rows={3}
            value={draft}
            onInput={(e) => setDraft(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey) {
                e.preventDefault();
                void send();
              }
            }}
          />
        </label>
        {images.length > 0 && (
          <div class="attached">
            {images.map((url, i) => (
              <button type="button" class="thumb" aria-label={`Remove picture ${i + 1}`} onClick={() => setImages(images.filter((_, j) => j !== i))}>
                <img src={url} alt="" />
              </button>
            ))}
          </div>
        )}
        <div class="actions">
          <label class="attach secondary">
            <input type="file" accept="image/*" multiple onChange={(e) => { void attach(e.currentTarget.files); e.currentTarget.value = ''; }} />
            <span>Attach a picture</span>
          </label>
          {answer !== undefined ? (
            <button type="button" class="secondary" onClick={() => running.current?.abort()}>
              Stop
            </button>
          ) : (
            <button type="submit" disabled={!model || (draft.trim() === '' && images.length === 0)}>
              Send
            </button>
          )}
        </div>
      </form>
    </div>
  );
}

function MessageBody({ content }: { content: Message['content'] }) {
  if (typeof content === 'string') return <>{content}</>;
  return (
    <>
      {content.map((part) => (part.type === 'text' ? <p>{part.text}</p> : <img class="sent" src={part.image_url.url} alt="An attached picture" />))}
    </>
  );
}

/** The content deltas of a streamed chat completion (OpenAI's SSE chunks, ending `data: [DONE]`). */
async function* streamChat(body: Record<string, unknown>, signal: AbortSignal): AsyncGenerator<string> {
  const response = await apiFetch('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }), signal });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (data === '[DONE]') return;
      if (!data) continue;
      const chunk = JSON.parse(data) as { error?: { message?: string }; choices?: { delta?: { content?: string | null } }[] };
      if (chunk.error) throw new Error(chunk.error.message ?? 'the stream failed');
      const text = chunk.choices?.[0]?.delta?.content;
      if (text) yield text;
    }
  }
  throw new Error('the stream ended before the answer did');
}
