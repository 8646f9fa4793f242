/**
 * `sessionward/dbsc`: Device Bound Session Credentials for server-side sessions.
 * See docs/device-binding.md for the threat model, setup per adapter and tiers.
 */
export { DeviceBoundSessions } from './dbsc.js';
export type { DeviceBoundSessionsOptions } from './context.js';
export { BINDING_KEY, bindingOf } from '../../core/binding.js';
export type { DeviceBinding, BindingKind } from '../../core/binding.js';
export type { SessionGuard, EndpointRequest, EndpointResponse } from '../../core/guard.js';
