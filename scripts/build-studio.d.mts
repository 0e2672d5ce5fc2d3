/** Where `npm run build` puts Studio: dist/studio/. */
export declare const STUDIO_OUT: string;
/** Builds Studio into `outDir` (emptied first; default dist/studio/). Returns the files written, relative to it. */
export declare const buildStudio: (options?: { outDir?: string; minify?: boolean }) => Promise<string[]>;
