import AxeBuilder from '@axe-core/playwright';
import { execFileSync } from 'node:child_process';
import { expect, test, type Browser, type Page } from '@playwright/test';
import { password, ready, rows, unique } from './session';

// The Users page (issue 25, item 2, without invitations yet): the view follows the URL and is
// built through its controls; an admin changes a user's role, deactivates and reactivates
// them, each asked first and each in the audit log; the last admin cannot be demoted; a
// compliance officer sees the table without controls.

/** A user of this test's own, made as an operator does, with the CLI. */
function makeUser(email: string, name: string, role: string) {
  execFileSync(process.env.TRAILKEEP_BIN!, ['user', 'create', '--email', email, '--name', name, '--role', role], {
    input: `${password}\n`,
    env: process.env,
  });
}

/** Signs in as `email` in a browser of their own; where they land. */
async function signInAs(browser: Browser, email: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto('/audit');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  return page;
}

test('an admin finds a user, changes their role, deactivates and reactivates them; each is in the log', async ({ page, browser }) => {
  test.setTimeout(120_000);
  const tag = unique('pat');
  const email = `${tag}@example.com`;
  const name = `Pat ${tag}`;
  makeUser(email, name, 'member');

  await ready(page, '/audit');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  await expect(page).toHaveURL(/\/users$/);
  await expect(page.getByRole('heading', { name: 'Users', level: 1 })).toBeVisible();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');

  // The view, built through its controls, lands in the URL.
  await page.getByTestId('users-find').pressSequentially(tag, { delay: 50 });
  await expect(page).toHaveURL(new RegExp(`/users\\?q=${tag}$`));
  const row = page.getByTestId('user-row').filter({ hasText: email });
  await expect(page.getByTestId('user-row')).toHaveCount(1);
  await expect(row).toContainText(name);
  await expect(row).toContainText('Never');
  await page.getByTestId('users-role').selectOption('admin');
  await expect(page).toHaveURL(/role=admin/);
  await expect(page.getByTestId('no-users')).toBeVisible();
  await page.getByTestId('users-role').selectOption('member');
  await page.getByTestId('users-sort').selectOption({ label: 'Last sign-in (newest first)' });
  await expect(page).toHaveURL(/sort=last_sign_in/);
  await expect(row).toBeVisible();
  // The same view from its link.
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(page.getByTestId('users-find')).toHaveValue(tag);
  await expect(page.getByTestId('users-role')).toHaveValue('member');
  await expect(page.getByTestId('user-row')).toHaveCount(1);

  // Role: asked first, then changed; the role filter no longer shows them.
  await row.getByTestId('user-role').selectOption('compliance');
  await expect(page.getByTestId('user-ask')).toContainText(`Make ${name} compliance instead of member?`);
  await page.getByTestId('confirm-user-change').click();
  await expect(page.getByTestId('no-users')).toBeVisible();
  await page.getByTestId('users-role').selectOption('');
  await expect(row.getByTestId('user-role')).toHaveValue('compliance');

  // Deactivated: they cannot sign in; reactivated: they can, as compliance.
  await row.getByTestId('deactivate-user').click();
  await expect(page.getByTestId('user-ask')).toContainText('signed out everywhere at once');
  await page.getByTestId('confirm-user-change').click();
  await expect(row).toHaveAttribute('data-status', 'Deactivated');
  const refused = await signInAs(browser, email);
  await expect(refused.getByRole('alert')).toBeVisible();
  await expect(refused).toHaveURL(/\/login/);
  await refused.context().close();
  await row.getByTestId('reactivate-user').click();
  await page.getByTestId('confirm-user-change').click();
  await expect(row).toHaveAttribute('data-status', 'Active');
  const back = await signInAs(browser, email);
  await expect(back.getByRole('heading', { name: 'Audit Log' })).toBeVisible();
  await back.context().close();

  // Each change is in the log: the user category of the action picker, and their email.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit Log' }).click();
  await expect(page.getByRole('heading', { name: 'Audit Log' })).toBeVisible();
  await page.getByTestId('action-picker').click();
  await page.getByTestId('action-search').pressSequentially('user.', { delay: 60 });
  for (const action of ['user.role_changed', 'user.deactivated', 'user.reactivated']) {
    await page.locator('details[open]').getByText(action, { exact: true }).click();
  }
  await expect(page).toHaveURL(/action=user\.role_changed/);
  await page.keyboard.press('Escape');
  await page.getByRole('searchbox', { name: 'Search the audit log' }).pressSequentially(email, { delay: 30 });
  await expect(rows(page)).toHaveCount(3);
  await expect(rows(page).nth(0)).toContainText('user.reactivated');
  await expect(rows(page).nth(1)).toContainText('user.deactivated');
  await expect(rows(page).nth(2)).toContainText('user.role_changed');
});

test('the last admin cannot be demoted or deactivated, and says why', async ({ page }) => {
  await ready(page, '/audit');
  await page.goto('/users?role=admin&status=active');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  const admins = page.getByTestId('user-row');
  await expect(admins).toHaveCount(1);
  await expect(admins).toContainText('(you)');
  await admins.getByTestId('user-role').selectOption('member');
  await page.getByTestId('confirm-user-change').click();
  await expect(page.getByTestId('user-error')).toContainText('last active admin');
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(admins.getByTestId('user-role')).toHaveValue('admin');
  await admins.getByTestId('deactivate-user').click();
  await page.getByTestId('confirm-user-change').click();
  await expect(page.getByTestId('user-error')).toContainText('last active admin');
});

test('a compliance officer sees the users without controls; a member is refused', async ({ browser }) => {
  const auditor = await signInAs(browser, 'auditor@company.com');
  await expect(auditor.getByRole('heading', { name: 'Audit Log' })).toBeVisible();
  await auditor.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  await expect(auditor.getByTestId('user-table')).toBeVisible();
  await expect(auditor.getByTestId('user-role')).toHaveCount(0);
  await expect(auditor.getByTestId('deactivate-user')).toHaveCount(0);
  await auditor.context().close();
  const member = await signInAs(browser, 'member@company.com');
  await expect(member.getByRole('navigation', { name: 'Main' }).getByRole('link')).toHaveText(['Account']);
  await member.goto('/users');
  await expect(member.getByText('Only admins and compliance officers can see the users')).toBeVisible();
  await member.context().close();
});

for (const scheme of ['light', 'dark'] as const) {
  test(`the Users page passes axe-core at 1280 and 768 px (${scheme})`, async ({ page }) => {
    await page.emulateMedia({ colorScheme: scheme });
    await ready(page, '/audit');
    await page.goto('/users');
    await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
    await expect(page.getByTestId('user-table')).toBeVisible();
    for (const width of [1280, 768]) {
      await page.setViewportSize({ width, height: 900 });
      const check = async (what: string) => {
        const result = await new AxeBuilder({ page }).analyze();
        const found = result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(' | ')}`);
        expect(found, `${what} at ${width} px, ${scheme}`).toEqual([]);
        const sideways = await page.evaluate(() => document.scrollingElement!.scrollWidth - document.scrollingElement!.clientWidth);
        expect(sideways, `${what}: sideways scroll`).toBe(0);
      };
      await check('users');
      await page.screenshot({ path: `test-results/users-${width}-${scheme}.png` });
      await page.getByTestId('user-row').filter({ hasText: 'member@company.com' }).getByTestId('deactivate-user').click();
      await expect(page.getByTestId('user-ask')).toBeVisible();
      await check('the deactivate question');
      await page.getByRole('button', { name: 'Cancel' }).click();
      await expect(page.getByTestId('user-ask')).toHaveCount(0);
    }
  });
}

test('an admin invites someone; they choose a password through the link, sign in, and the link works once', async ({ page, browser }) => {
  test.setTimeout(120_000);
  const tag = unique('invitee');
  const email = `${tag}@example.com`;
  await ready(page, '/audit');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await page.getByTestId('invite-user').click();
  await expect(page.getByTestId('invite-email')).toBeFocused();
  await page.getByTestId('invite-email').pressSequentially(email, { delay: 30 });
  await page.getByTestId('invite-name').pressSequentially(`Robin ${tag}`, { delay: 30 });
  await page.getByTestId('invite-role').selectOption('compliance');
  await page.getByTestId('send-invite').click();
  const link = (await page.getByTestId('invitation-link').innerText()).trim();
  expect(link).toMatch(/\/invite#tki_[0-9a-f]{64}$/);
  await expect(page.getByTestId('pending-invitations')).toContainText(email);
  await page.screenshot({ path: 'test-results/users-invited.png' });
  await page.getByTestId('invitation-done').click();
  await expect(page.getByText(link)).toHaveCount(0);

  // The invitee, in a browser of their own, with nobody signed in.
  const invitee = await (await browser.newContext()).newPage();
  await invitee.goto(link);
  await expect(invitee.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await expect(invitee.getByTestId('invite-page')).toContainText(email);
  await expect(invitee.getByTestId('invite-page')).toContainText('as compliance');
  const result = await new AxeBuilder({ page: invitee }).analyze();
  expect(result.violations.map((v) => v.id), 'the invitation page').toEqual([]);
  await invitee.getByTestId('invite-password').pressSequentially('password1234', { delay: 30 });
  await expect(invitee.getByTestId('invite-hint')).toContainText('every list attackers try first');
  await invitee.getByTestId('invite-password').fill('');
  const chosen = 'otter lantern quarry';
  await invitee.getByTestId('invite-password').pressSequentially(chosen, { delay: 30 });
  await expect(invitee.getByTestId('invite-hint')).toContainText('At least 12 characters');
  await invitee.getByTestId('invite-again').pressSequentially(chosen, { delay: 30 });
  await invitee.getByTestId('create-account').click();
  await expect(invitee.getByTestId('invite-done')).toContainText('Your account is ready');
  await invitee.screenshot({ path: 'test-results/invite-done.png' });
  await invitee.getByRole('link', { name: 'Sign in' }).click();
  await invitee.getByLabel('Email').fill(email);
  await invitee.getByLabel('Password').fill(chosen);
  await invitee.getByRole('button', { name: 'Sign in' }).click();
  await expect(invitee.getByRole('heading', { name: 'Audit Log' })).toBeVisible();
  await invitee.context().close();

  // Used: the same link says so, in any browser.
  const again = await (await browser.newContext()).newPage();
  await again.goto(link);
  await expect(again.getByTestId('invite-refused')).toContainText('cannot be used');
  await again.context().close();
  await page.reload();
  await expect(page.getByTestId('user-row').filter({ hasText: email })).toHaveAttribute('data-status', 'Active');
  await expect(page.getByTestId('pending-invitations')).toHaveCount(0);
});
