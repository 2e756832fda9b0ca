/**
 * The transcript beside its audio: segments and words highlighted as the audio plays, a click on a word (or
 * Enter on it) seeks the player there, and a download button per format.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { describeError } from '../api.js';
import { DOWNLOAD_FORMATS, itemAt, wordsBySegment, type DownloadFormat, type VerboseJson } from '../transcript.js';

interface Props {
  verbose: VerboseJson;
  /** The uploaded file as a blob: URL; absent for a job uploaded in another session. */
  audioUrl?: string;
  download: (format: DownloadFormat) => Promise<void>;
}

export function TranscriptView({ verbose, audioUrl, download }: Props) {
  const player = useRef<HTMLAudioElement>(null);
  const [time, setTime] = useState(-1);
  const [downloadError, setDownloadError] = useState('');
  const shown = useMemo(() => wordsBySegment(verbose), [verbose]);
  const words = verbose.words ?? [];

  // timeupdate comes about 4 times a second; while playing, follow every frame so the highlight keeps up.
  useEffect(() => {
    const audio = player.current;
    if (!audio) return;
    let frame = 0;
    const follow = () => {
      setTime(audio.currentTime);
      if (!audio.paused) frame = requestAnimationFrame(follow);
    };
    const onPlay = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(follow);
    };
    const onTime = () => setTime(audio.currentTime);
    audio.addEventListener('play', onPlay);
    audio.addEventListener('timeupdate', onTime);
    audio.addEventListener('seeked', onTime);
    return () => {
      cancelAnimationFrame(frame);
      audio.removeEventListener('play', onPlay);
      audio.removeEventListener('timeupdate', onTime);
      audio.removeEventListener('seeked', onTime);
    };
  }, [audioUrl]);

  const currentWord = time < 0 ? -1 : itemAt(words, time);
  const currentSegment = time < 0 ? -1 : itemAt(verbose.segments, time);
  const seek = (seconds: number) => {
    const audio = player.current;
    if (!audio) return;
    audio.currentTime = seconds;
    setTime(seconds);
  };
  const save = (format: DownloadFormat) => {
    setDownloadError('');
    download(format).catch((error: unknown) => setDownloadError(`The ${format} download failed: ${describeError(error)}`));
  };

  return (
    <section class="transcript" aria-label="Transcript">
      <div class="transcript-head">
        {audioUrl ? <audio ref={player} src={audioUrl} controls preload="auto" /> : <p class="hint">The audio of this job is not in this browser: the transcript cannot follow playback.</p>}
        <div class="downloads" role="group" aria-label="Download">
          {DOWNLOAD_FORMATS.map((format) => (
            <button type="button" class="secondary" data-format={format} onClick={() => save(format)}>
              {format}
            </button>
          ))}
        </div>
      </div>
      {downloadError && <p class="error" role="alert">{downloadError}</p>}
      <p class="meta">
        {verbose.language} · {verbose.duration.toFixed(1)} s · {verbose.segments.length} segments{words.length > 0 ? ` · ${words.length} words` : ''}
      </p>
      <div class="segments" data-testid="transcript">
        {shown.map(({ segment, words: indexes }, s) => (
          <p class={s === currentSegment ? 'segment current' : 'segment'} data-segment={segment.id}>
            <button type="button" class="time" title="Play from here" onClick={() => seek(segment.start)}>
              {clock(segment.start)}
            </button>{' '}
            {indexes.length === 0
              ? segment.text.trim()
              : indexes.map((i) => (
                  <>
                    <button
                      type="button"
                      class={i === currentWord ? 'word current' : 'word'}
                      aria-current={i === currentWord ? 'true' : undefined}
                      data-word={i}
                      data-start={words[i].start}
                      onClick={() => seek(words[i].start)}
                    >
                      {words[i].word}
                    </button>{' '}
                  </>
                ))}
          </p>
        ))}
      </div>
    </section>
  );
}

function clock(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = seconds - m * 60;
  return `${m}:${s.toFixed(1).padStart(4, '0')}`;
}
