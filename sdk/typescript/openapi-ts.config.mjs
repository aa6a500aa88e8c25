// @hey-api/openapi-ts configuration: `make sdk` generates src/ from the contract.
export default {
  input: "../../openapi/openapi.yaml",
  output: { path: "src", postProcess: [], importFileExtension: ".js" },
  plugins: ["@hey-api/client-fetch", "@hey-api/typescript", "@hey-api/sdk"],
};
