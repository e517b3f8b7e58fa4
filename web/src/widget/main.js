import { client, xml } from "@xmpp/client";
window.SwitchboardWidget = { client, xml };
