/* The only host APIs the core uses besides WebSocket (which is injected or
 * found on globalThis): timers. No DOM lib, so nothing else slips in. */
declare function setTimeout(fn: () => void, ms?: number): unknown;
declare function setInterval(fn: () => void, ms?: number): unknown;
declare function clearTimeout(t: unknown): void;
declare function clearInterval(t: unknown): void;
