// Internal: the napi-rs addon, loaded through the generated loader in <pkg>/native/.
// This file compiles to dist/cjs/native.js, so the loader is two levels up from there.
// (`native/index.d.ts` is also copied to dist/native/ by the build so that the type
// import below resolves from dist/types/ too.)
import type * as Native from '../native/index';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const native: typeof Native = require('../../native/index.js');
