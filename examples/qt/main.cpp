// SPDX-License-Identifier: LGPL-2.1-or-later
// A Qt 6 app that shows the Codex login: the account, the state in words,
// and a button that fetches a token without blocking; it updates live.
//
//   codex-auth-qt [--print-state]
//
// --print-state prints what the window shows each time it changes (one
// "SHOW" line), and SIGUSR1 presses the button: how the test drives it.
#include <QApplication>
#include <QLabel>
#include <QPushButton>
#include <QSocketNotifier>
#include <QVBoxLayout>
#include <QWidget>
#include <csignal>
#include <cstdio>
#include <sys/socket.h>
#include <unistd.h>

#include "codexauth.h"

static int signal_pipe[2];

static void on_sigusr1(int)
{
    char c = 1;
    (void) !write(signal_pipe[0], &c, 1);
}

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    const bool print_state = app.arguments().contains(QStringLiteral("--print-state"));

    QWidget window;
    window.setWindowTitle(QStringLiteral("Codex account (Qt)"));
    window.resize(420, 220);
    auto *layout = new QVBoxLayout(&window);
    auto *account = new QLabel;
    auto *state = new QLabel(QStringLiteral("Connecting..."));
    auto *detail = new QLabel;
    auto *button = new QPushButton(QStringLiteral("Get token"));
    auto *token = new QLabel;
    QFont big = account->font();
    big.setPointSize(big.pointSize() + 4);
    big.setBold(true);
    account->setFont(big);
    button->setEnabled(false);
    for (QWidget *w : {static_cast<QWidget *>(account), static_cast<QWidget *>(state), static_cast<QWidget *>(detail),
                       static_cast<QWidget *>(button), static_cast<QWidget *>(token)})
        layout->addWidget(w);

    CodexAuth auth;
    QString last;
    auto show = [&]() {
        if (!print_state)
            return;
        const QString line = QStringLiteral("SHOW account=%1|state=%2|detail=%3|token=%4")
                                 .arg(account->text(), state->text(), detail->text(), token->text());
        if (line != last) {
            last = line;
            std::printf("%s\n", line.toUtf8().constData());
            std::fflush(stdout);
        }
    };
    auto update = [&]() {
        const QString method = auth.authMethod();
        account->setText(method == QLatin1String("chatgpt") ? QStringLiteral("%1 (%2)").arg(auth.email(), auth.planType())
                         : method == QLatin1String("apikey") ? QStringLiteral("API key")
                                                             : QStringLiteral("No account"));
        state->setText(auth.stateText());
        QString text;
        if (auth.state() == CodexAuth::LogInAgain || auth.state() == CodexAuth::TemporarilyFailing)
            text = auth.refreshErrorMessage();
        else if (auth.state() == CodexAuth::Ready && auth.lastRefresh().isValid())
            text = auth.lastRefresh().toLocalTime().toString(QStringLiteral("'Last refreshed' yyyy-MM-dd HH:mm:ss"));
        detail->setText(text);
        button->setEnabled(auth.state() == CodexAuth::Ready || auth.state() == CodexAuth::TemporarilyFailing ||
                           auth.state() == CodexAuth::Refreshing);
        // A token fetched for an account that is gone says nothing any more.
        if (!button->isEnabled())
            token->clear();
        show();
    };
    QObject::connect(&auth, &CodexAuth::stateChanged, update);
    QObject::connect(&auth, &CodexAuth::accountChanged, update);
    QObject::connect(&auth, &CodexAuth::refreshErrorMessageChanged, update);
    QObject::connect(&auth, &CodexAuth::lastRefreshChanged, update);
    QObject::connect(&auth, &CodexAuth::runningChanged, update);
    QObject::connect(button, &QPushButton::clicked, [&]() {
        token->setText(QStringLiteral("Fetching a token..."));
        show();
        auth.fetchToken();
    });
    QObject::connect(&auth, &CodexAuth::tokenFetched, [&](const QString &t, const QString &error) {
        // Never show a token: only that there is one.
        token->setText(!t.isEmpty() ? QStringLiteral("Got a token (%1 characters)").arg(t.size())
                                    : QStringLiteral("No token: %1").arg(error));
        show();
    });

    socketpair(AF_UNIX, SOCK_STREAM, 0, signal_pipe);
    QSocketNotifier notifier(signal_pipe[1], QSocketNotifier::Read);
    QObject::connect(&notifier, &QSocketNotifier::activated, [&]() {
        char c;
        (void) !read(signal_pipe[1], &c, 1);
        if (button->isEnabled())
            button->click();
    });
    std::signal(SIGUSR1, on_sigusr1);

    update();
    window.show();
    return app.exec();
}
