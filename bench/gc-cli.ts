// `node bench/gc-cli.ts [garbage-collect options] CONFIG`: the garbage-collect command as its own process,
// so bench/gc.ts can time it and read its peak RSS the same way as Distribution's.
import { garbageCollectCommand } from '../registry/gc/command.ts';

process.exitCode = await garbageCollectCommand(process.argv.slice(2));
