/**
 * The moxing web UI: five pages behind a hash route (#/transcribe, #/live, #/images, #/chat, #/calculator), so the
 * server serves one index.html and nothing routes on its side. The API key is asked for once and kept in
 * localStorage.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { apiKey, setApiKey } from './api.js';
import { CalculatorPage } from './pages/calculator.js';
import { ChatPage } from './pages/chat.js';
import { ImagesPage } from './pages/images.js';
import { LivePage } from './pages/live.js';
import { TranscribePage } from './pages/transcribe.js';
import './styles.css';

const PAGES = {
  transcribe: { title: 'Transcribe', Page: TranscribePage },
  live: { title: 'Live', Page: LivePage },
  images: { title: 'Images', Page: ImagesPage },
  chat: { title: 'Chat', Page: ChatPage },
  calculator: { title: 'Calculator', Page: CalculatorPage },
} as const;
type PageId = keyof typeof PAGES;

function currentPage(): PageId {
  const id = location.hash.replace(/^#\/?/, '');
  return Object.hasOwn(PAGES, id) ? (id as PageId) : 'transcribe';
}

function App() {
  const [page, setPage] = useState<PageId>(currentPage());
  useEffect(() => {
    const onHash = () => setPage(currentPage());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    document.title = `${PAGES[page].title} · moxing`;
  }, [page]);
  const { Page } = PAGES[page];
  return (
    <>
      <a class="skip" href="#main">
        Skip to the page
      </a>
      <header>
        <span class="brand">moxing</span>
        <nav aria-label="Pages">
          {(Object.keys(PAGES) as PageId[]).map((id) => (
            <a href={`#/${id}`} aria-current={id === page ? 'page' : undefined}>
              {PAGES[id].title}
            </a>
          ))}
        </nav>
        <KeyField />
      </header>
      <main id="main" tabIndex={-1}>
        <Page key={page} />
      </main>
    </>
  );
}

/** The API key: entered once, kept in this browser, sent as a Bearer token with every call. */
function KeyField() {
  const [saved, setSaved] = useState(apiKey() !== '');
  const [draft, setDraft] = useState('');
  if (saved) {
    return (
      <span class="key">
        API key saved{' '}
        <button
          type="button"
          class="secondary"
          onClick={() => {
            setApiKey('');
            setSaved(false);
          }}
        >
          Forget
        </button>
      </span>
    );
  }
  return (
    <form
      class="key"
      onSubmit={(e) => {
        e.preventDefault();
        if (draft.trim() === '') return;
        setApiKey(draft.trim());
        setDraft('');
        setSaved(true);
        location.reload();
      }}
    >
      <label>
        API key <input type="password" autoComplete="off" value={draft} placeholder="if the server needs one" onInput={(e) => setDraft(e.currentTarget.value)} />
      </label>
      <button type="submit" class="secondary">
        Save
      </button>
    </form>
  );
}

render(<App />, document.getElementById('app')!);
