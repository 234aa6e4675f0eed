import js from "@eslint/js";
import tseslint from "typescript-eslint";

const PURE =
  "src/forward/protocol/ is pure bytes: sockets belong to transport/, timers to servers/ and batching/";
const IO_MODULES = ["net", "tls", "dgram", "http", "https", "timers", "timers/promises"];

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    files: ["src/forward/protocol/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: IO_MODULES.flatMap((m) => [m, `node:${m}`]).map((name) => ({ name, message: PURE })),
          patterns: [
            { group: ["../batching/*", "../transport/*", "../servers/*", "../sink*"], message: PURE },
          ],
        },
      ],
      "no-restricted-globals": [
        "error",
        ...["setTimeout", "setInterval", "setImmediate"].map((name) => ({ name, message: PURE })),
      ],
    },
  },
);
