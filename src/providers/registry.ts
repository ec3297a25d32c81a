/**
 * The one table of trackers, keyed by provider. Code that needs a tracker fact looks it up here
 * (through the front door, `index.ts`) instead of switching on the provider.
 */
import { gitea } from "./gitea";
import { github } from "./github";
import { gitlab } from "./gitlab";
import type { Provider, TrackerDescriptor } from "./types";

export const TRACKERS: Readonly<Record<Provider, TrackerDescriptor>> = { github, gitlab, gitea };
