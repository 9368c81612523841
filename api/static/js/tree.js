// placeholder until the page lands in this session
import { config, h, mount, t } from "./common.js";

mount(h("h1", {}, document.title.split(" · ")[0]));
document.body.dataset.ready = "1";
void config;
void t;
