package main

import "github.com/np-portable/np/internal/interrupt"

// An install, and the steps of np's commands that run helper programs,
// watch for interrupt signals: see package interrupt.

type interruptWatch = interrupt.Watch

type interruptedError = interrupt.Error

func watchInterrupts() *interruptWatch { return interrupt.Start() }

func isInterrupt(err error) bool { return interrupt.Is(err) }
