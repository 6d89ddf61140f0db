// The wire format of `GET /berth/v1/repositories/<name>/tags`, shared with its clients (the operator's cleanup
// policies parse responses with this schema). Dates are RFC 3339 UTC strings with milliseconds.
import { z } from 'zod';
import type { TagDetails } from '../store/tag-details.ts';

const timestamp = z.iso.datetime({ offset: true });

export const tagDetailsEntrySchema = z.object({
  name: z.string().min(1),
  digest: z.string().optional(),
  mediaType: z.string().optional(),
  size: z.int().min(0).optional(),
  totalSize: z.int().min(0).optional(),
  created: timestamp.optional(),
  tagWrittenAt: timestamp.optional(),
  manifests: z.array(z.string()).optional(),
});
export type TagDetailsEntry = z.infer<typeof tagDetailsEntrySchema>;

export const tagDetailsPageSchema = z.object({
  name: z.string().min(1),
  tags: z.array(tagDetailsEntrySchema),
});
export type TagDetailsPage = z.infer<typeof tagDetailsPageSchema>;

/** The wire form of a tag's details, fields in a fixed order. */
export function toTagDetailsEntry(d: TagDetails): TagDetailsEntry {
  return {
    name: d.name,
    ...(d.digest !== undefined ? { digest: d.digest } : {}),
    ...(d.mediaType !== undefined ? { mediaType: d.mediaType } : {}),
    ...(d.size !== undefined ? { size: d.size } : {}),
    ...(d.totalSize !== undefined ? { totalSize: d.totalSize } : {}),
    ...(d.created ? { created: d.created.toISOString() } : {}),
    ...(d.tagWrittenAt ? { tagWrittenAt: d.tagWrittenAt.toISOString() } : {}),
    ...(d.manifests !== undefined ? { manifests: d.manifests } : {}),
  };
}
