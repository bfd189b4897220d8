// cosmiconfig (mjml → htmlnano → cosmiconfig) requires the TypeScript compiler only to read a
// `.ts` config file, which a Worker never has. wrangler.toml aliases `typescript` here so that
// 10 MB of compiler stay out of the bundle (they took it over the Workers size limit).
const unavailable = (): never => {
  throw new Error('The TypeScript compiler is not bundled into the Worker');
};

export const transpileModule = unavailable;
export default { transpileModule };
