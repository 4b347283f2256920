"""Voice: provider webhooks (Twilio) and the IVR, generic CTI events from any PBX, outbound calls, the simulator."""
