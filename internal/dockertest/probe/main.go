// Command probe is the whole of the test image of package container: it
// prints its environment and arguments, sleeps, or exits with a status.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	switch {
	case len(os.Args) > 2 && os.Args[1] == "exit":
		n, _ := strconv.Atoi(os.Args[2])
		fmt.Println("probe says", os.Getenv("PROBE_WORD"))
		os.Exit(n)
	case len(os.Args) > 1 && os.Args[1] == "healthy":
		os.Exit(0)
	default:
		// PID 1 gets no default signal handling: exit on SIGTERM ourselves so
		// that stop and restart do not wait for the engine's kill timeout.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		select {
		case <-sig:
		case <-time.After(time.Hour):
		}
	}
}
