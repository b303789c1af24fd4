# What `cmake --install` and the .deb (cmake/UsherPackage.cmake) put where, all in the
# COMPONENT daemons: the five daemons and usherctl, a systemd unit per daemon and
# usher.target, the environment files under /etc/usher, and what an operator may copy
# and change (templates, permission matrix, product catalogue, the database SQL). The
# migrations and templates the daemons run with are compiled in; the copies here are for
# reading and replacing. docs/deployment.md explains the installed layout.
include(GNUInstallDirs)

set(USHER_DAEMONS identityd tenancyd invitationd notificationd gatewayd)
foreach(short IN LISTS USHER_DAEMONS)
  install(TARGETS usher-${short} RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR} COMPONENT daemons)
endforeach()
install(TARGETS usherctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT daemons)

# systemd reads units under <prefix>/lib/systemd/system for /usr and /usr/local alike.
set(USHER_UNITDIR "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" CACHE PATH
    "Where the systemd units go")
set(USHER_SBINDIR "${CMAKE_INSTALL_FULL_SBINDIR}")
set(USHER_DOCDIR "${CMAKE_INSTALL_FULL_DATAROOTDIR}/doc/usher")
# Start order follows who calls whom: identityd sends mail through notificationd,
# tenancyd asks identityd and hands its events to notificationd, invitationd all three,
# the gateway all four. notificationd resolves service principals at identityd only when
# one calls it, after start-up, so it comes first and the order has no cycle. (Each
# daemon also waits for its peers; the order just avoids the wait.)
set(after_notificationd "")
set(after_identityd "usher-notificationd.service")
set(after_tenancyd "usher-identityd.service usher-notificationd.service")
set(after_invitationd "usher-identityd.service usher-tenancyd.service usher-notificationd.service")
set(after_gatewayd
    "usher-identityd.service usher-tenancyd.service usher-invitationd.service usher-notificationd.service")
set(role_identityd "identity daemon: users, sessions, service principals")
set(role_tenancyd "tenancy daemon: accounts, roles, members")
set(role_invitationd "invitation daemon: invitations and links")
set(role_notificationd "notification daemon: email delivery")
set(role_gatewayd "gateway: HTTP API and console")
foreach(short IN LISTS USHER_DAEMONS)
  set(USHER_SHORT ${short})
  set(USHER_DAEMON usher-${short})
  set(USHER_ROLE "${role_${short}}")
  set(USHER_AFTER "${after_${short}}")
  set(USHER_EXTRA "")
  if(short STREQUAL "notificationd")
    # MAIL_SPOOL_DIR lives here when no SMTP_URL is set: the one place it may write.
    set(USHER_EXTRA "StateDirectory=usher-notificationd\nStateDirectoryMode=0700")
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/packaging/systemd/usher-daemon.service.in
                 ${CMAKE_BINARY_DIR}/packaging/usher-${short}.service @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/packaging/usher-${short}.service
          DESTINATION ${USHER_UNITDIR} COMPONENT daemons)
endforeach()
install(FILES packaging/systemd/usher.target DESTINATION ${USHER_UNITDIR} COMPONENT daemons)

# The environment files hold secrets once filled in: root only (systemd reads them as
# root before the daemon starts under its own user).
set(USHER_CONFDIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}/usher")
install(FILES packaging/env/common.env DESTINATION ${USHER_CONFDIR} COMPONENT daemons
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
foreach(short IN LISTS USHER_DAEMONS)
  install(FILES packaging/env/${short}.env DESTINATION ${USHER_CONFDIR} COMPONENT daemons
          PERMISSIONS OWNER_READ OWNER_WRITE)
endforeach()

set(USHER_SHAREDIR "${CMAKE_INSTALL_FULL_DATADIR}/usher")
install(DIRECTORY services/notification/templates/ DESTINATION ${USHER_SHAREDIR}/templates
        COMPONENT daemons)
install(FILES services/tenancy/permissions.conf services/tenancy/products.conf
        DESTINATION ${USHER_SHAREDIR}/examples COMPONENT daemons)
# The compose file's callers, with its development keys: a format example, never a policy.
install(FILES docker/callers.conf DESTINATION ${USHER_SHAREDIR}/examples
        RENAME callers.development.conf COMPONENT daemons)
install(DIRECTORY scripts/sql/ DESTINATION ${USHER_SHAREDIR}/sql COMPONENT daemons)
foreach(svc identity tenancy invitation notification)
  install(DIRECTORY services/${svc}/migrations/ DESTINATION ${USHER_SHAREDIR}/migrations/${svc}
          COMPONENT daemons)
endforeach()
install(DIRECTORY common/migrations/ DESTINATION ${USHER_SHAREDIR}/migrations/common
        COMPONENT daemons)
install(FILES docs/deployment.md README.md DESTINATION ${USHER_DOCDIR} COMPONENT daemons)
