/** Images: search the server's image index with a picture; the nearest images as a grid with their scores. */
import { useState } from 'preact/hooks';
import { apiJson, describeError, readAsDataUrl } from '../api.js';

interface Hit {
  path: string;
  score: number;
}

export function ImagesPage() {
  const [preview, setPreview] = useState('');
  const [k, setK] = useState(12);
  const [hits, setHits] = useState<Hit[] | undefined>(undefined);
  const [model, setModel] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const search = async (file: File) => {
    setError('');
    setHits(undefined);
    if (preview) URL.revokeObjectURL(preview);
    setPreview(URL.createObjectURL(file));
    setBusy(true);
    try {
      const image = await readAsDataUrl(file);
      const answer = await apiJson<{ model: string; results: Hit[] }>('/v1/images/search', { image, k });
      setModel(answer.model);
      setHits(answer.results);
    } catch (e) {
      setError(`The search failed: ${describeError(e)}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="page">
      <h1>Images</h1>
      <div class="row">
        <label
          class="drop small"
          onDragOver={(e) => e.preventDefault()}
          onDrop={(e) => {
            e.preventDefault();
            const file = e.dataTransfer?.files[0];
            if (file) void search(file);
          }}
        >
          <input
            type="file"
            accept="image/*"
            onChange={(e) => {
              const file = e.currentTarget.files?.[0];
              if (file) void search(file);
              e.currentTarget.value = '';
            }}
          />
          <span>Drop a picture here, or press to choose one.</span>
        </label>
        <label>
          Results
          <input type="number" min={1} max={100} value={k} onChange={(e) => setK(Math.max(1, Math.min(100, Number(e.currentTarget.value) || 1)))} />
        </label>
        {preview && <img class="query" src={preview} alt="The picture searched for" />}
      </div>
      {busy && <p class="hint">Searching…</p>}
      {error && <p class="error" role="alert">{error}</p>}
      {hits && (
        <>
          <p class="meta">
            {hits.length} nearest images in the index ({model})
          </p>
          <ol class="grid" data-testid="image-results">
            {hits.map((hit) => (
              <li class="card">
                <span class="path">{hit.path}</span>
                <meter min={-1} max={1} value={hit.score} aria-label={`similarity of ${hit.path}`} />
                <span class="score">{hit.score.toFixed(4)}</span>
              </li>
            ))}
          </ol>
        </>
      )}
    </div>
  );
}
