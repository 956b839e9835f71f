// esbuild's "text" loader turns an imported .css file into its source string.
declare module "*.css" {
  const text: string;
  export default text;
}
