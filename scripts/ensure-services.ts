import { ensureLocalServices } from '../src/dev/local-services.js';

await ensureLocalServices();
