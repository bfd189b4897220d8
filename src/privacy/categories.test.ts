import { describe, expect, it } from 'vitest';
import { AppError } from '../http/problem.js';
import { classifyAttribute, specialCategoryOf } from './categories.js';

describe('classifyAttribute', () => {
  it('maps aliases to special categories and gives each its purpose', () => {
    expect(specialCategoryOf('Alcohol')).toBe('health');
    expect(classifyAttribute({ sensitive: true, category: 'politics', purpose: null })).toEqual({
      sensitive: true,
      category: 'political_opinions',
      purpose: 'sensitive:political_opinions',
    });
    expect(classifyAttribute({ sensitive: false, category: 'loyalty', purpose: null })).toEqual({
      sensitive: false,
      category: 'loyalty',
      purpose: null,
    });
  });

  it('refuses a sensitive attribute without a special category, and a special one declared ordinary', () => {
    expect(() => classifyAttribute({ sensitive: true, category: null, purpose: 'x' })).toThrow(AppError);
    expect(() => classifyAttribute({ sensitive: false, category: 'genetic', purpose: null })).toThrow(
      AppError,
    );
  });
});
