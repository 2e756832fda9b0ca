/**
 * Live: the browser's microphone through an AudioWorklet (resampled to pcm16 at 24 kHz) on the realtime
 * socket; partial text in grey, committed text in black, and the committed-text latency.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import workletUrl from '../live/pcm16-worklet.ts?worker&url';
import { apiKey, apiJson, describeError } from '../api.js';
import { bytesToBase64 } from '../live/resample.js';
import { applyEvent, EMPTY_LIVE, medianLatency, realtimeProtocols, realtimeUrl, sentAt, sessionUpdate, type LiveState } from '../live/realtime.js';

const RATE = 24_000;

interface Running {
  socket: WebSocket;
  context: AudioContext;
  stream: MediaStream;
}

export function LivePage() {
  const [state, setState] = useState<LiveState>(EMPTY_LIVE);
  const [status, setStatus] = useState<'idle' | 'connecting' | 'listening'>('idle');
  const [error, setError] = useState('');
  const [models, setModels] = useState<string[]>(['whisper-1']);
  const [model, setModel] = useState('whisper-1');
  const running = useRef<Running | undefined>(undefined);
  /** [audio ms sent so far, wall-clock ms when it was sent], in order. */
  const sent = useRef<[number, number][]>([]);

  useEffect(() => {
    apiJson<{ data: { id: string }[] }>('/v1/models')
      .then((answer) => setModels(answer.data.map((m) => m.id)))
      .catch(() => undefined);
    return () => stop();
  }, []);

  const sentBy = (audioMs: number): number | undefined => sentAt(sent.current, audioMs);

  const start = async () => {
    setError('');
    setState(EMPTY_LIVE);
    sent.current = [];
    setStatus('connecting');
    let stream: MediaStream | undefined;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
    } catch (e) {
      setStatus('idle');
      setError(`The microphone is not available: ${describeError(e)}. Allow this page to use it and try again.`);
      return;
    }
    const socket = new WebSocket(realtimeUrl(location), realtimeProtocols(apiKey()));
    const context = new AudioContext();
    running.current = { socket, context, stream };
    let opened = false;
    socket.onerror = () => {
      if (!opened) setError('The live socket could not be opened: this server may have no /v1/realtime route, or the API key is wrong.');
    };
    socket.onclose = (event) => {
      if (opened && event.code !== 1000) setError(`The server closed the live socket${event.reason ? `: ${event.reason}` : ` (code ${event.code})`}.`);
      stop();
    };
    socket.onmessage = (message) => {
      try {
        const event = JSON.parse(String(message.data));
        setState((s) => applyEvent(s, event, performance.now(), sentBy));
      } catch {
        setError('The server sent a message this page cannot read.');
      }
    };
    socket.onopen = async () => {
      opened = true;
      socket.send(JSON.stringify(sessionUpdate(model, '', RATE)));
      try {
        await context.audioWorklet.addModule(workletUrl);
        const source = context.createMediaStreamSource(stream);
        const worklet = new AudioWorkletNode(context, 'pcm16', { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1 });
        // A silent path to the output keeps the graph pulling the worklet in every browser.
        const mute = context.createGain();
        mute.gain.value = 0;
        source.connect(worklet).connect(mute).connect(context.destination);
        let audioMs = 0;
        worklet.port.onmessage = (message: MessageEvent<Int16Array>) => {
          if (socket.readyState !== WebSocket.OPEN) return;
          const samples = message.data;
          socket.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: bytesToBase64(new Uint8Array(samples.buffer)) }));
          audioMs += (samples.length / RATE) * 1000;
          sent.current.push([audioMs, performance.now()]);
        };
        await context.resume();
        setStatus('listening');
      } catch (e) {
        setError(`The audio could not be started: ${describeError(e)}`);
        stop();
      }
    };
  };

  const stop = () => {
    const r = running.current;
    running.current = undefined;
    if (!r) return;
    r.stream.getTracks().forEach((t) => t.stop());
    r.context.close().catch(() => undefined);
    if (r.socket.readyState === WebSocket.OPEN) r.socket.close(1000);
    setStatus('idle');
  };

  const latest = [...state.items].reverse().find((i) => i.latencyMs !== undefined)?.latencyMs;
  const median = medianLatency(state.items);
  return (
    <div class="page">
      <h1>Live</h1>
      <div class="row">
        <label>
          Model
          <select value={model} disabled={status !== 'idle'} onChange={(e) => setModel(e.currentTarget.value)}>
            {models.map((m) => (
              <option value={m}>{m}</option>
            ))}
          </select>
        </label>
        {status === 'idle' ? (
          <button type="button" onClick={() => void start()}>
            Start listening
          </button>
        ) : (
          <button type="button" onClick={stop}>
            Stop
          </button>
        )}
        <span class="hint" aria-live="polite">
          {status === 'connecting' ? 'connecting…' : status === 'listening' ? (state.speaking ? 'hearing speech' : 'listening') : ''}
        </span>
      </div>
      <p class="latency" data-testid="latency">
        Committed-text latency: {latest === undefined ? '—' : `${Math.round(latest)} ms`} (median {median === undefined ? '—' : `${Math.round(median)} ms`})
      </p>
      {(error || state.error) && (
        <p class="error" role="alert">
          {error || state.error}
        </p>
      )}
      <div class="live-text" data-testid="live-text" aria-live="polite">
        {state.items.map((item) => (
          <span class="item" data-item={item.id} data-done={item.done ? 'true' : undefined}>
            {item.committed && <span class="committed">{item.committed.trim()} </span>}
            {item.partial && <span class="partial">{item.partial.trim()} </span>}
          </span>
        ))}
      </div>
    </div>
  );
}
