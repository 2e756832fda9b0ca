/**
 * A download progress bar on stderr for the CLI (cli-progress), fed by HubOptions.onProgress.
 * Silent when stderr is not a terminal, so logs and tests are not flooded with redraws.
 */
import cliProgress from 'cli-progress';
import type { DownloadProgress } from './options.js';

export interface ProgressReporter {
  readonly onProgress: (progress: DownloadProgress) => void;
  /** Stops the bar and leaves the cursor on a fresh line. */
  stop(): void;
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

export function createDownloadProgress(stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  if (!stream.isTTY) return { onProgress: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: '{file} [{bar}] {percentage}% | {doneMb}/{totalMb} MB | {index}/{count}',
      hideCursor: true,
      clearOnComplete: false,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  let current: string | undefined;
  let running = false;
  return {
    onProgress(p) {
      const total = p.bytesTotal ?? Math.max(p.bytesDone, 1);
      const payload = { file: p.file, doneMb: megabytes(p.bytesDone), totalMb: p.bytesTotal ? megabytes(p.bytesTotal) : '?', index: p.fileIndex + 1, count: p.fileCount };
      if (current !== p.file) {
        if (running) bar.stop();
        bar.start(total, p.bytesDone, payload);
        running = true;
        current = p.file;
      } else {
        bar.setTotal(total);
        bar.update(p.bytesDone, payload);
      }
    },
    stop() {
      if (running) bar.stop();
      running = false;
      current = undefined;
    },
  };
}
