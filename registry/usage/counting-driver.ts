// A storage driver that counts what it is asked to do, so a usage scan can state its cost: how many storage
// calls it made and how many entries the listings returned (on object stores a listing is billed per page of
// entries, so the entries are the number that grows with the data).
import type { StorageDriver } from '../storage/driver.ts';

export interface StorageCost {
  /** Driver calls made (a flat walk counts once, whatever pages it took). */
  calls: number;
  /** Directory entries returned by `list` and entries visited by `walk`. */
  entriesListed: number;
  /** `stat` calls (blob sizes, link checks). */
  stats: number;
}

export function countingDriver(driver: StorageDriver): { driver: StorageDriver; cost: StorageCost } {
  const cost: StorageCost = { calls: 0, entriesListed: 0, stats: 0 };
  const counted: Partial<StorageDriver> = {
    list: async (path) => {
      cost.calls++;
      const children = await driver.list(path);
      cost.entriesListed += children.length;
      return children;
    },
    walk: (path, visit, options) => {
      cost.calls++;
      const count: typeof visit = (info) => {
        cost.entriesListed++;
        return visit(info);
      };
      return options ? driver.walk(path, count, options) : driver.walk(path, count);
    },
    stat: (path) => {
      cost.calls++;
      cost.stats++;
      return driver.stat(path);
    },
    getContent: (path) => {
      cost.calls++;
      return driver.getContent(path);
    },
  };
  // Everything else goes to the driver itself, bound to it (drivers keep private state).
  const proxy = new Proxy(driver, {
    get(target, prop, receiver) {
      if (Object.hasOwn(counted, prop)) return counted[prop as keyof StorageDriver];
      const value: unknown = Reflect.get(target, prop, receiver === proxy ? target : receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { driver: proxy, cost };
}
