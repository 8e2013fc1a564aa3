// SPDX-License-Identifier: LGPL-2.1-or-later
// CodexAuth: the Codex login for a Qt app, over the proxy generated from
// org.codex.Auth1.xml. Its properties follow the service live
// (PropertiesChanged), it notices the service leaving and coming back
// (QDBusServiceWatcher), and it sums the state up as the GObject client
// library does (docs/app-developers.md, "The state"). Copy it into an app.
#pragma once

#include <QDateTime>
#include <QObject>
#include <QString>
#include <QVariantMap>

class OrgCodexAuth1Interface;
class QDBusServiceWatcher;

class CodexAuth : public QObject
{
    Q_OBJECT
    Q_PROPERTY(bool running READ running NOTIFY runningChanged)
    Q_PROPERTY(State state READ state NOTIFY stateChanged)
    Q_PROPERTY(QString stateText READ stateText NOTIFY stateChanged)
    Q_PROPERTY(QString authMethod READ authMethod NOTIFY accountChanged)
    Q_PROPERTY(QString email READ email NOTIFY accountChanged)
    Q_PROPERTY(QString planType READ planType NOTIFY accountChanged)
    Q_PROPERTY(QString refreshErrorMessage READ refreshErrorMessage NOTIFY refreshErrorMessageChanged)
    Q_PROPERTY(QDateTime lastRefresh READ lastRefresh NOTIFY lastRefreshChanged)

public:
    enum State { NotRunning, LoggedOut, Ready, Refreshing, TemporarilyFailing, LogInAgain, StoreLocked, StoreError };
    Q_ENUM(State)

    explicit CodexAuth(QObject *parent = nullptr);

    bool running() const { return m_running; }
    State state() const { return m_state; }
    QString stateText() const;
    QString authMethod() const { return string(QStringLiteral("AuthMethod")); }
    QString email() const { return string(QStringLiteral("Email")); }
    QString planType() const { return string(QStringLiteral("PlanType")); }
    QString refreshErrorMessage() const { return string(QStringLiteral("RefreshErrorMessage")); }
    QDateTime lastRefresh() const;

    // Asks for the token without blocking: tokenFetched() answers, with an
    // empty token and the reason when there is none.
    void fetchToken(bool refresh = false);

signals:
    void runningChanged();
    void stateChanged();
    void accountChanged();
    void refreshErrorMessageChanged();
    void lastRefreshChanged();
    void tokenFetched(const QString &token, const QString &error);

private slots:
    void onPropertiesChanged(const QString &interface, const QVariantMap &changed, const QStringList &invalidated);
    void onServiceRegistered();
    void onServiceUnregistered();

private:
    QString string(const QString &name) const { return m_props.value(name).toString(); }
    void loadAll();
    void apply(const QVariantMap &props, bool replace);

    OrgCodexAuth1Interface *m_iface;
    QDBusServiceWatcher *m_watcher;
    QVariantMap m_props;
    bool m_running = false;
    State m_state = NotRunning;
};
