// Loaded after tsx (`node --import tsx --import ./bench/use-dist.mjs`): the benchmarks import
// valkit from src/ and these hooks hand them the build in dist/ instead, so valkit is measured
// as users run it. tsx compiles with esbuild's keepNames, which wraps every named closure in a
// `__name()` call at creation: ~20% of the queue worker's CPU per job at concurrency 100
// (17.5 against 21.9 µs, three paired runs), a cost no user of the published package pays.
import { register } from 'node:module'

register('./dist-hooks.mjs', import.meta.url)
