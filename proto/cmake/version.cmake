# Writes deconf/version.h (cmake -P, at every build): the project version
# passed in, and the git commit of the source tree if it is a git checkout.
# configure_file rewrites the header only when it changed, so a build with
# nothing new recompiles nothing.
#   -DSRC=<source dir> -DIN=<version.h.in> -DOUT=<version.h>
#   -DVERSION=x.y.z -DGIT=<git executable or empty>
set(DECONF_GIT_COMMIT "")
if(GIT AND EXISTS "${SRC}/.git")
  # --exclude=*: the commit itself, never a tag name that could move
  execute_process(
    COMMAND "${GIT}" -C "${SRC}" describe --always --dirty --abbrev=12 --exclude=*
    OUTPUT_VARIABLE DECONF_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT DECONF_GIT_COMMIT MATCHES "^[0-9a-f]+(-dirty)?$")
    set(DECONF_GIT_COMMIT "")
  endif()
endif()
set(DECONF_VERSION "${VERSION}")
string(REPLACE "." ";" _parts "${VERSION}")
list(GET _parts 0 DECONF_VERSION_MAJOR)
list(GET _parts 1 DECONF_VERSION_MINOR)
list(GET _parts 2 DECONF_VERSION_PATCH)
configure_file("${IN}" "${OUT}" @ONLY)
