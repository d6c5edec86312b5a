// Command empty is an empty Go program: what bench/compare measures as the
// Go runtime's own start-up and exit, which every Go job pays before it
// does anything.
package main

func main() {}
