/** The stylesheet is bundled by esbuild (imported for its effect). */
declare module "*.css";
