//go:build !unix

package pipes

import "os"

func rawFD(*os.File) (int, bool) { return 0, false }

func writeRaw(int, string, []byte) (int, error) { panic("unreachable") }
