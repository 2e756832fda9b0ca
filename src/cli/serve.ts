/** `moxing serve`: the HTTP API (image and transformer-math routes) on a host and port. */
import type { Command } from 'commander';
import { buildApp } from '../server/index.js';
import { parseInteger } from './options.js';

interface ServeCliOptions {
  host: string;
  port: number;
  imagesModel?: string;
  index?: string;
  classifyTrain?: string;
  log: boolean;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve the HTTP API: /v1/images/* (DINOv2) and /v1/calc/* (transformer math)')
    .option('--host <host>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--port <port>', 'TCP port', parseInteger('--port', 0, 65535), 8080)
    .option('--images-model <model>', 'vision model for /v1/images/* (default: dinov2-small)')
    .option('--index <location>', 'image index for /v1/images/search: a folder (moxing index) or a postgres:// URL')
    .option('--classify-train <dir>', 'training folder (one subfolder per class) for /v1/images/classify')
    .option('--no-log', 'do not log requests')
    .action(async (options: ServeCliOptions) => {
      const app = await buildApp({
        logger: options.log,
        images: { model: options.imagesModel, index: options.index, classifyTrainDir: options.classifyTrain },
      });
      const address = await app.listen({ host: options.host, port: options.port });
      process.stderr.write(`moxing serving on ${address}\n`);
      const stop = (): void => {
        // A failing close must still end the process, and not as an unhandled rejection.
        app.close().then(
          () => process.exit(0),
          (error: unknown) => {
            process.stderr.write(`moxing serve: error while closing: ${(error as Error).message}\n`);
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
