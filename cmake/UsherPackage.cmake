# The .deb (`./usher package`, or `cpack -G DEB` in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr): one package, usher_<version>_<arch>.deb, holding the
# components listed in USHER_PACKAGE_COMPONENTS (cmake/UsherInstall.cmake installs
# "daemons"; other components can join the list).
set(USHER_PACKAGE_COMPONENTS daemons CACHE STRING "Components the .deb holds")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME usher)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "Usher")
set(CPACK_PACKAGE_CONTACT "Usher maintainers <usher@example.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Invitation and membership daemons for multi-tenant platforms")
set(CPACK_PACKAGE_DESCRIPTION "Five daemons (identity, tenancy, invitation, notification and an HTTP gateway) with usherctl, hardened systemd units and their environment files under /etc/usher.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_COMPONENTS_ALL ${USHER_PACKAGE_COMPONENTS})
set(CPACK_DEB_COMPONENT_INSTALL OFF)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies from the binaries themselves (dpkg-shlibdeps).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The units' ExecReload runs /bin/kill (not in a minimal Debian).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "procps")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql (>= 13)")
# conffiles: the operator's edits to /etc/usher survive upgrades; postinst/postrm tell a
# running systemd about the units (they are not enabled or started: they need settings).
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
