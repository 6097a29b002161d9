// ESLint for the app's own JavaScript (`make lint`). One dialect: strict mode, const/let, ===.
// The browser scripts are classic scripts (no bundler) that share window.Refuge; the vendored
// libraries are built files, not ours.
import js from "@eslint/js";
import globals from "globals";

const rules = {
  "no-var": "error",
  "prefer-const": "error",
  eqeqeq: ["error", "always"],
  strict: ["error", "function"],
  "no-unused-vars": ["error", { caughtErrors: "none" }],
};

export default [
  { ignores: ["intake/static/vendor/", "node_modules/", ".venv/"] },
  js.configs.recommended,
  {
    files: ["intake/static/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "script",
      globals: { ...globals.browser, sodium: "readonly" },
    },
    rules,
  },
  {
    files: ["**/*.mjs"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.node },
    rules: { ...rules, strict: ["error", "never"] },
  },
];
