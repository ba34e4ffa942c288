// Pages with no behaviour of their own: translation and the language switch only.
import { setupLanguageSwitch } from "./i18n.js";
setupLanguageSwitch();
