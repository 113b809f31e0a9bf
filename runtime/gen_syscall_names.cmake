# Generates syscall_names.h (syscall number -> name, for console messages)
# from the kernel's own list in linux-libc-dev, so no table is hand-copied.
# cmake -DIN=.../asm/unistd_64.h -DOUT=.../syscall_names.h -P gen_syscall_names.cmake
file(STRINGS "${IN}" lines REGEX "^#define __NR_[a-z0-9_]+ [0-9]+$")
set(body "")
foreach(line IN LISTS lines)
  string(REGEX REPLACE "^#define __NR_([a-z0-9_]+) ([0-9]+)$" "\\2" nr "${line}")
  string(REGEX REPLACE "^#define __NR_([a-z0-9_]+) ([0-9]+)$" "\\1" name "${line}")
  string(APPEND body "\tcase ${nr}: return \"${name}\";\n")
endforeach()
file(WRITE "${OUT}.tmp" "/* Generated from ${IN}; do not edit. */\n#ifndef SYSCALL_NAMES_H\n#define SYSCALL_NAMES_H\n\nstatic inline const char *syscall_name(unsigned nr)\n{\n\tswitch (nr) {\n${body}\tdefault: return \"unknown\";\n\t}\n}\n\n#endif\n")
file(RENAME "${OUT}.tmp" "${OUT}")
