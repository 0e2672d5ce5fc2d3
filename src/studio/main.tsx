/** Studio's entry: renders the app into #app. Bundled by scripts/build-studio.mjs. */
import { render } from "preact";
import { App } from "./app.js";
import "./styles.css";

render(<App />, document.getElementById("app")!);
