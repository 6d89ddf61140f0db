// Follows config.yml while the registry runs, so settings such as read-only mode switch without a restart.
//
// Triggers: fs.watch on the file's directory (plain edits, editors that save by rename, and Kubernetes
// ConfigMap updates, which swap the `..data` symlink rather than touching config.yml), fs.watch on the file
// itself (a config.yml that is a symlink into another directory), and SIGHUP. Bursts of events are debounced.
// A valid config with a new revision is emitted as `change`; an invalid one as `error`, and the running
// config is kept — a bad edit must never take the registry down.
import { EventEmitter } from 'node:events';
import { watch, watchFile, unwatchFile, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseConfig, readConfigFile, type LoadedConfig, type ParseOptions } from './load.ts';
import type { RegistryConfig } from './schema.ts';

export interface ConfigWatcherEvents {
  change: [LoadedConfig];
  error: [Error];
}

export interface ConfigWatcherOptions extends ParseOptions {
  /** Environment for REGISTRY_* overrides. Default: `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * The config the caller is running (from `loadConfig`). Changes are reported relative to it, so an edit
   * made between that load and the watcher's start is not missed. Unset: the watcher loads a baseline itself.
   */
  initial?: { config: RegistryConfig; revision: string };
  /** Quiet period after a file event before reloading. Default 250 ms. */
  debounceMs?: number;
  /** Watch the file system. Default true. */
  watch?: boolean;
  /** Reload on SIGHUP. Default true. */
  sighup?: boolean;
  /** Poll interval used only when fs.watch is unavailable (e.g. inotify limits). Default 2000 ms. */
  pollMs?: number;
}

export class ConfigWatcher extends EventEmitter<ConfigWatcherEvents> {
  readonly path: string;
  /** Resolves once the baseline config is known and watching has started. */
  readonly ready: Promise<void>;
  #current: LoadedConfig | undefined;
  readonly #options: ConfigWatcherOptions;
  readonly #debounceMs: number;
  #dirWatcher: FSWatcher | undefined;
  #fileWatcher: FSWatcher | undefined;
  #polling = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #running: Promise<LoadedConfig | undefined> | undefined;
  #queued: { force: boolean; promise: Promise<LoadedConfig | undefined> } | undefined;
  // The text of the last file that was parsed, so repeated events for the same bytes do nothing.
  #lastText: string | undefined;
  // Without `initial`, the first successful load only establishes what is running.
  #baselinePending: boolean;
  readonly #onSighup = (): void => {
    void this.reload({ force: true });
  };

  constructor(path: string, options: ConfigWatcherOptions = {}) {
    super();
    this.path = path;
    this.#options = options;
    this.#debounceMs = options.debounceMs ?? 250;
    if (options.initial) this.#current = { ...options.initial, warnings: [] };
    this.#baselinePending = options.initial === undefined;
    // Watch before the baseline load so nothing written in between is missed.
    if (options.watch ?? true) this.#startWatching();
    if (options.sighup ?? true) process.on('SIGHUP', this.#onSighup);
    this.ready = options.initial ? Promise.resolve() : this.reload().then(() => undefined);
  }

  /** The config currently in force (the last valid one), if any. */
  get current(): LoadedConfig | undefined {
    return this.#current;
  }

  /**
   * Re-reads the file now. Resolves with the new config when its revision changed, otherwise undefined.
   * `force` re-parses even when the bytes are unchanged (SIGHUP does, so a bad file is reported again).
   */
  reload(options: { force?: boolean } = {}): Promise<LoadedConfig | undefined> {
    const force = options.force ?? false;
    if (this.#closed) return Promise.resolve(undefined);
    if (this.#running === undefined) return this.#run(force);
    // One reload at a time; requests made meanwhile share a single follow-up run.
    if (this.#queued) {
      this.#queued.force ||= force;
      return this.#queued.promise;
    }
    const queued: { force: boolean; promise: Promise<LoadedConfig | undefined> } = {
      force,
      promise: this.#running.then(() => {
        this.#queued = undefined;
        return this.#closed ? undefined : this.#run(queued.force);
      }),
    };
    this.#queued = queued;
    return queued.promise;
  }

  #run(force: boolean): Promise<LoadedConfig | undefined> {
    const run = this.#reloadOnce(force).finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  /** Stops watching and removes the SIGHUP handler. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#dirWatcher?.close();
    this.#fileWatcher?.close();
    if (this.#polling) unwatchFile(this.path, this.#onPoll);
    process.off('SIGHUP', this.#onSighup);
    await this.#running?.catch(() => undefined);
  }

  async #reloadOnce(force: boolean): Promise<LoadedConfig | undefined> {
    try {
      const text = await readConfigFile(this.path);
      if (!force && text === this.#lastText) return undefined;
      this.#lastText = text;
      const loaded = parseConfig(text, this.#options.env ?? process.env, this.path, this.#options);
      if (this.#closed) return undefined;
      if (this.#baselinePending) {
        this.#baselinePending = false;
        this.#current = loaded;
        return undefined;
      }
      if (loaded.revision === this.#current?.revision) return undefined;
      this.#current = loaded;
      this.emit('change', loaded);
      return loaded;
    } catch (err) {
      // No valid baseline: the first valid config seen later is a change.
      this.#baselinePending = false;
      this.#report(err instanceof Error ? err : new Error(String(err)));
      return undefined;
    } finally {
      // An atomic replace leaves the file watcher on the old inode: re-arm it on the current file.
      this.#watchFileItself();
    }
  }

  #report(err: Error): void {
    // Without a listener EventEmitter would throw, i.e. crash the registry: the old config simply stays.
    if (!this.#closed && this.listenerCount('error') > 0) this.emit('error', err);
  }

  #schedule = (): void => {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.reload(), this.#debounceMs);
    this.#timer.unref();
  };

  #startWatching(): void {
    const name = basename(this.path);
    try {
      // Kubernetes' atomic writer touches `..data`, `..data_tmp` and `..<timestamp>` entries.
      this.#dirWatcher = watch(dirname(this.path), { persistent: false }, (_event, filename) => {
        if (filename === null || filename === name || filename.startsWith('..')) this.#schedule();
      });
      this.#dirWatcher.on('error', (err) => {
        this.#report(err);
        this.#dirWatcher?.close();
        this.#dirWatcher = undefined;
        this.#startPolling();
      });
    } catch (err) {
      this.#report(err instanceof Error ? err : new Error(String(err)));
      this.#startPolling();
    }
    this.#watchFileItself();
  }

  #watchFileItself(): void {
    if (this.#closed || this.#polling || !(this.#options.watch ?? true)) return;
    this.#fileWatcher?.close();
    this.#fileWatcher = undefined;
    try {
      const watcher = watch(this.path, { persistent: false }, this.#schedule);
      watcher.on('error', () => watcher.close()); // the directory watcher still covers the file
      this.#fileWatcher = watcher;
    } catch {
      // Missing right now (mid-replace); the directory watcher will see it come back.
    }
  }

  readonly #onPoll = (): void => this.#schedule();

  #startPolling(): void {
    if (this.#polling || this.#closed) return;
    this.#polling = true;
    this.#fileWatcher?.close();
    watchFile(this.path, { persistent: false, interval: this.#options.pollMs ?? 2000 }, this.#onPoll);
  }
}
