/**
 * Transcribe: files dropped or chosen become jobs. With the server's jobs API (`/v1/jobs`) each upload is a
 * durable job whose status the list polls; without it the page calls `POST /v1/audio/transcriptions` (or
 * /translations) and waits for the answer. Either way the transcript comes as verbose_json with word times.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { LANGUAGES } from '../../../src/text/languages.js';
import { apiFetch, apiJson, describeError, routeExists, saveFile, upload } from '../api.js';
import { DOWNLOAD_TYPES, renderDownload, type DownloadFormat, type VerboseJson } from '../transcript.js';
import { TranscriptView } from './transcript-view.js';

interface Options {
  model: string;
  language: string;
  task: 'transcribe' | 'translate';
  words: boolean;
  vad: boolean;
  /** openai's temperature ladder when a window decodes badly; off: greedy only, the same answer every time. */
  fallback: boolean;
}

type Status = 'uploading' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

interface Job {
  key: string;
  name: string;
  status: Status;
  /** Share of the upload sent, 0..1. */
  uploaded: number;
  /** Work done, in % (from the jobs API). */
  progress?: number;
  audioSecondsDone?: number;
  error?: string;
  /** The id in the jobs API. */
  id?: string;
  audioUrl?: string;
  result?: VerboseJson;
}

/** What GET /v1/jobs/:id and the list answer (the fields this page reads). */
interface RemoteJob {
  id: string;
  status: Status;
  progress?: number;
  audio_seconds_done?: number;
  audio_seconds?: number;
  file_name?: string;
  filename?: string;
  error?: { message?: string } | string | null;
}

const POLL_MS = 1000;
const FINISHED: readonly Status[] = ['succeeded', 'failed', 'cancelled'];

export function TranscribePage() {
  const [options, setOptions] = useState<Options>({ model: 'whisper-1', language: '', task: 'transcribe', words: true, vad: false, fallback: true });
  const [models, setModels] = useState<string[]>(['whisper-1']);
  const [jobsApi, setJobsApi] = useState<boolean | undefined>(undefined);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [error, setError] = useState('');
  const [dragging, setDragging] = useState(false);
  const jobsRef = useRef(jobs);
  jobsRef.current = jobs;

  const update = (key: string, change: Partial<Job>) => setJobs((list) => list.map((j) => (j.key === key ? { ...j, ...change } : j)));

  useEffect(() => {
    apiJson<{ data: { id: string }[] }>('/v1/models')
      .then((answer) => setModels(answer.data.map((m) => m.id)))
      .catch((e: unknown) => setError(`The model list could not be read: ${describeError(e)}`));
    routeExists('GET', '/v1/jobs?limit=50').then(async (exists) => {
      setJobsApi(exists);
      if (!exists) return;
      try {
        const listed = await apiJson<{ data?: RemoteJob[]; jobs?: RemoteJob[] }>('/v1/jobs?limit=50');
        const remote = (listed.data ?? listed.jobs ?? []).map(fromRemote);
        setJobs((list) => [...list, ...remote.filter((r) => !list.some((j) => j.id === r.id))]);
      } catch (e) {
        setError(`The job list could not be read: ${describeError(e)}`);
      }
    });
  }, []);

  // Live status: poll every job of the jobs API that is not finished.
  useEffect(() => {
    if (!jobsApi) return;
    const timer = setInterval(() => {
      for (const job of jobsRef.current) {
        if (job.id === undefined || FINISHED.includes(job.status) || job.status === 'uploading') continue;
        pollJob(job).catch((e: unknown) => update(job.key, { status: 'failed', error: describeError(e) }));
      }
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [jobsApi]);

  const pollJob = async (job: Job) => {
    const remote = await apiJson<RemoteJob>(`/v1/jobs/${encodeURIComponent(job.id!)}`);
    const change: Partial<Job> = { status: remote.status, progress: remote.progress, audioSecondsDone: remote.audio_seconds_done };
    if (remote.status === 'failed') change.error = remoteError(remote);
    if (remote.status === 'succeeded') change.result = await apiJson<VerboseJson>(`/v1/jobs/${encodeURIComponent(job.id!)}/result?format=verbose_json`);
    update(job.key, change);
  };

  const start = (files: readonly File[]) => {
    setError('');
    for (const file of files) {
      const key = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
      const job: Job = { key, name: file.name, status: 'uploading', uploaded: 0, audioUrl: URL.createObjectURL(file) };
      setJobs((list) => [job, ...list]);
      setSelected((current) => current ?? key);
      run(job, file).catch((e: unknown) => update(key, { status: 'failed', error: describeError(e) }));
    }
  };

  const run = async (job: Job, file: File) => {
    const form = new FormData();
    form.append('model', options.model);
    if (options.language) form.append('language', options.language);
    form.append('response_format', 'verbose_json');
    form.append('timestamp_granularities[]', 'segment');
    if (options.words) form.append('timestamp_granularities[]', 'word');
    if (options.vad) form.append('vad', 'true');
    if (!options.fallback) form.append('temperature_inc', '0');
    const onProgress = (sent: number) => update(job.key, { uploaded: sent, ...(sent >= 1 && !jobsApi ? { status: 'running' as const } : {}) });
    if (jobsApi) {
      form.append('task', options.task);
      form.append('file', file, file.name);
      const created = JSON.parse(await upload('/v1/jobs', form, onProgress)) as RemoteJob;
      update(job.key, { id: created.id, status: created.status ?? 'queued', uploaded: 1 });
      return;
    }
    form.append('file', file, file.name);
    const path = options.task === 'translate' ? '/v1/audio/translations' : '/v1/audio/transcriptions';
    const result = JSON.parse(await upload(path, form, onProgress)) as VerboseJson;
    update(job.key, { status: 'succeeded', result, progress: 100 });
  };

  const cancel = async (job: Job) => {
    try {
      await apiFetch(`/v1/jobs/${encodeURIComponent(job.id!)}`, { method: 'DELETE' });
      update(job.key, { status: 'cancelled' });
    } catch (e) {
      setError(`The job could not be cancelled: ${describeError(e)}`);
    }
  };

  const download = async (job: Job, format: DownloadFormat) => {
    const base = job.name.replace(/\.[^.]*$/, '') || 'transcript';
    const { ext, type } = DOWNLOAD_TYPES[format];
    if (job.id !== undefined) {
      const answer = await apiFetch(`/v1/jobs/${encodeURIComponent(job.id)}/result?format=${format}`);
      saveFile(`${base}.${ext}`, await answer.blob(), type);
    } else if (job.result) {
      saveFile(`${base}.${ext}`, renderDownload(job.result, format), type);
    }
  };

  const show = (job: Job) => {
    setSelected(job.key);
    if (job.result || job.id === undefined) return;
    apiJson<VerboseJson>(`/v1/jobs/${encodeURIComponent(job.id)}/result?format=verbose_json`)
      .then((result) => update(job.key, { result }))
      .catch((e: unknown) => setError(`The transcript could not be read: ${describeError(e)}`));
  };

  const shown = jobs.find((j) => j.key === selected);
  return (
    <div class="page">
      <h1>Transcribe</h1>
      <fieldset class="options">
        <legend>Options</legend>
        <label>
          Model
          <select value={options.model} onChange={(e) => setOptions({ ...options, model: e.currentTarget.value })}>
            {models.map((m) => (
              <option value={m}>{m}</option>
            ))}
          </select>
        </label>
        <label>
          Language
          <select value={options.language} onChange={(e) => setOptions({ ...options, language: e.currentTarget.value })}>
            <option value="">detect</option>
            {Object.entries(LANGUAGES).map(([code, name]) => (
              <option value={code}>{name}</option>
            ))}
          </select>
        </label>
        <label>
          Task
          <select value={options.task} onChange={(e) => setOptions({ ...options, task: e.currentTarget.value as Options['task'] })}>
            <option value="transcribe">transcribe</option>
            <option value="translate">translate to English</option>
          </select>
        </label>
        <label class="check">
          <input type="checkbox" checked={options.words} onChange={(e) => setOptions({ ...options, words: e.currentTarget.checked })} /> word timestamps
        </label>
        <label class="check">
          <input type="checkbox" checked={options.vad} onChange={(e) => setOptions({ ...options, vad: e.currentTarget.checked })} /> VAD (skip silence)
        </label>
        <label class="check">
          <input type="checkbox" checked={options.fallback} onChange={(e) => setOptions({ ...options, fallback: e.currentTarget.checked })} /> temperature fallback
        </label>
      </fieldset>
      <label
        class={dragging ? 'drop dragging' : 'drop'}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          start([...(e.dataTransfer?.files ?? [])]);
        }}
      >
        <input
          type="file"
          accept="audio/*,video/*"
          multiple
          onChange={(e) => {
            start([...(e.currentTarget.files ?? [])]);
            e.currentTarget.value = '';
          }}
        />
        <span>Drop audio or video files here, or press to choose them.</span>
      </label>
      <p class="hint">
        {jobsApi === undefined ? 'Asking the server for its jobs API…' : jobsApi ? 'Each file becomes a job on the server (/v1/jobs).' : 'This server has no jobs API: each file is transcribed in one request (/v1/audio/transcriptions).'}
      </p>
      {error && <p class="error" role="alert">{error}</p>}
      <table class="jobs" aria-label="Jobs">
        <thead>
          <tr>
            <th scope="col">File</th>
            <th scope="col">Status</th>
            <th scope="col">Progress</th>
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {jobs.length === 0 && (
            <tr>
              <td colSpan={4} class="hint">No jobs yet.</td>
            </tr>
          )}
          {jobs.map((job) => (
            <tr class={job.key === selected ? 'selected' : ''} data-status={job.status}>
              <td>{job.name}</td>
              <td class="status">
                {job.status}
                {job.error && <span class="error"> — {job.error}</span>}
              </td>
              <td>
                {job.status === 'uploading' ? (
                  <progress max={1} value={job.uploaded} aria-label={`Upload of ${job.name}`} />
                ) : job.status === 'running' && job.progress === undefined ? (
                  <progress aria-label={`Work on ${job.name}`} />
                ) : (
                  <progress max={100} value={job.progress ?? (job.status === 'succeeded' ? 100 : 0)} aria-label={`Work on ${job.name}`} />
                )}
                {job.audioSecondsDone !== undefined && <span class="hint"> {job.audioSecondsDone.toFixed(0)} s done</span>}
              </td>
              <td class="actions">
                <button type="button" class="secondary" disabled={!job.result && !(job.id !== undefined && job.status === 'succeeded')} onClick={() => show(job)}>
                  Show
                </button>
                {job.id !== undefined && !FINISHED.includes(job.status) && (
                  <button type="button" class="secondary" onClick={() => cancel(job)}>
                    Cancel
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown?.result && <TranscriptView key={shown.key} verbose={shown.result} audioUrl={shown.audioUrl} download={(format) => download(shown, format)} />}
    </div>
  );
}

function fromRemote(remote: RemoteJob): Job {
  return {
    key: `job-${remote.id}`,
    id: remote.id,
    name: remote.file_name ?? remote.filename ?? remote.id,
    status: remote.status,
    uploaded: 1,
    progress: remote.progress,
    audioSecondsDone: remote.audio_seconds_done,
    ...(remote.status === 'failed' ? { error: remoteError(remote) } : {}),
  };
}

function remoteError(remote: RemoteJob): string {
  if (typeof remote.error === 'string') return remote.error;
  return remote.error?.message ?? 'the job failed';
}
