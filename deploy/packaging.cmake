# deploy/packaging.cmake — what `cmake --install` puts where, and the Debian
# packages CPack makes of it (included from the top-level CMakeLists.txt,
# after the programs' own install rules).
#
# Two components, one per package:
#   adapter  deconf-adapter, its man page, completion, example agency.conf,
#            deconf-adapter.service
#   broker   deconf-broker and deconfctl, their man pages and completions,
#            example broker.conf, deconf-broker.service
# Nothing else is installed: no library, header, test, benchmark or fuzzer.
#
#   cmake --install BUILD [--prefix /usr/local] [--component adapter|broker]
#   (cd BUILD && cpack -G DEB)   -> deconf-adapter_V_ARCH.deb, deconf-broker_V_ARCH.deb

set(_src ${PROJECT_SOURCE_DIR})

# man pages (docs/man/, roff)
install(FILES ${_src}/docs/man/deconf-adapter.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT adapter)
install(FILES ${_src}/docs/man/deconf-broker.8 ${_src}/docs/man/deconfctl.8
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man8 COMPONENT broker)

# bash completions, where bash-completion looks them up by command name
set(DECONF_BASH_COMPLETION_DIR ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
    CACHE STRING "where bash completions go (relative: under the prefix)")
install(FILES ${_src}/deploy/completion/deconf-adapter
        DESTINATION ${DECONF_BASH_COMPLETION_DIR} COMPONENT adapter)
install(FILES ${_src}/deploy/completion/deconf-broker ${_src}/deploy/completion/deconfctl
        DESTINATION ${DECONF_BASH_COMPLETION_DIR} COMPONENT broker)

# example configurations: documentation, not live configuration (the units
# read /etc/deconf/*.conf, which the operator writes from these or from
# `deconfctl federation init` / `agency add`)
install(FILES ${_src}/deploy/config/agency.conf.example
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT adapter)
install(FILES ${_src}/deploy/config/broker.conf.example
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT broker)

# systemd units. The units in deploy/systemd/ name /usr/local/bin (where a
# plain `cmake --install` puts the programs); installed, they name the
# bindir of the prefix they are installed under (/usr/bin in the packages).
# That prefix is known only at install time (cpack installs with its own,
# /usr, into a DESTDIR that file(INSTALL) adds), hence install(CODE) rather
# than configure_file.
set(DECONF_SYSTEMD_UNIT_DIR lib/systemd/system
    CACHE STRING "where systemd units go (relative: under the prefix)")
foreach(_unit adapter broker)
  install(CODE "
    set(_dir \"${DECONF_SYSTEMD_UNIT_DIR}\")
    if(NOT IS_ABSOLUTE \"\${_dir}\")
      set(_dir \"\${CMAKE_INSTALL_PREFIX}/\${_dir}\")
    endif()
    set(_bindir \"${CMAKE_INSTALL_BINDIR}\")
    if(NOT IS_ABSOLUTE \"\${_bindir}\")
      set(_bindir \"\${CMAKE_INSTALL_PREFIX}/\${_bindir}\")
    endif()
    file(READ \"${_src}/deploy/systemd/deconf-${_unit}.service\" _text)
    string(REPLACE \"/usr/local/bin/\" \"\${_bindir}/\" _text \"\${_text}\")
    file(WRITE \"${CMAKE_CURRENT_BINARY_DIR}/deploy/deconf-${_unit}.service\" \"\${_text}\")
    file(INSTALL \"${CMAKE_CURRENT_BINARY_DIR}/deploy/deconf-${_unit}.service\"
         DESTINATION \"\${_dir}\")
  " COMPONENT ${_unit})
endforeach()

# ---------------------------------------------------------------- packages
set(DECONF_PACKAGE_MAINTAINER "deconf maintainers <deconf@example.org>"
    CACHE STRING "the Maintainer field of the Debian packages")

# Maintainer scripts, one pair per package from deploy/debian/*.in.
set(_deb ${CMAKE_CURRENT_BINARY_DIR}/deploy/debian)
foreach(_comp adapter broker)
  set(DECONF_PKG deconf-${_comp})
  if(_comp STREQUAL adapter)
    set(DECONF_OTHER_PKG deconf-broker)
    set(DECONF_STATE_DIRS "/var/lib/deconf-adapter /var/spool/deconf")
    set(DECONF_STATE_DOC "/var/lib/deconf-adapter (the ledger) and /var/spool/deconf")
    set(DECONF_EXTRA_DOC "# Also the spool directory /var/spool/deconf (deconf:deconf 0750):\n# run.spool_dir of the example, and the unit's ReadWritePaths needs it.")
    set(DECONF_EXTRA_DIRS "dir /var/spool/deconf \"$uid\" \"$gid\" 0750")
  else()
    set(DECONF_OTHER_PKG deconf-adapter)
    set(DECONF_STATE_DIRS "/var/lib/deconf-broker")
    set(DECONF_STATE_DOC "/var/lib/deconf-broker (the matcher's state, rebuilt from Kafka)")
    set(DECONF_EXTRA_DOC "#")
    set(DECONF_EXTRA_DIRS "")
  endif()
  file(MAKE_DIRECTORY ${_deb}/${_comp})
  foreach(_script postinst postrm)
    configure_file(${_src}/deploy/debian/${_script}.in ${_deb}/${_comp}/${_script} @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
                   GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  endforeach()
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME deconf)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${DECONF_PACKAGE_MAINTAINER}")
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL adapter broker) # nothing unnamed: no tests, benches, fuzzers
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # NAME_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON) # the programs without their debug sections
# Depends: from the programs' shared libraries (dpkg-shlibdeps), plus what
# the maintainer scripts run (useradd, groupadd)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON) # scripts 0755 per policy
set(CPACK_DEBIAN_ADAPTER_PACKAGE_NAME deconf-adapter)
set(CPACK_DEBIAN_BROKER_PACKAGE_NAME deconf-broker)
set(CPACK_DEBIAN_ADAPTER_PACKAGE_DEPENDS passwd)
set(CPACK_DEBIAN_BROKER_PACKAGE_DEPENDS passwd)
set(CPACK_DEBIAN_ADAPTER_PACKAGE_CONTROL_EXTRA
    ${_deb}/adapter/postinst ${_deb}/adapter/postrm)
set(CPACK_DEBIAN_BROKER_PACKAGE_CONTROL_EXTRA
    ${_deb}/broker/postinst ${_deb}/broker/postrm)
# Description: the first line is the summary; the rest, the long text.
set(CPACK_DEBIAN_ADAPTER_DESCRIPTION
"deconf agency adapter
deconf-adapter turns an agency's case indicators into keyed hashes,
publishes them signed to the deconfliction federation over Kafka, and maps
the federation's conflict notices back to the agency's cases. Raw
indicator values never leave the agency's machine.")
set(CPACK_DEBIAN_BROKER_DESCRIPTION
"deconf federation broker and deconfctl
deconf-broker verifies the agencies' signed submissions, matches their
keyed hashes and sends signed conflict notices back over Kafka; deconfctl
is the federation operator's tool: certificates, keys, agencies, topics
and ACLs, status.")
include(CPack)
