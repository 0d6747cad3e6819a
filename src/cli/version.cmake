# Writes OUT (a header) with the version and the commit of SOURCE_DIR, and
# rewrites it only when that changes (run at every build).
execute_process(COMMAND git -C "${SOURCE_DIR}" describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT commit)
  set(commit "unknown")  # a source tree without git (a release tarball)
endif()
set(text "#pragma once\n#define SALVUS_VERSION \"${VERSION}\"\n#define SALVUS_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
